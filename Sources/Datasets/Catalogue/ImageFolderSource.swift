import Foundation
import Interface
import Tensor

/// `images <folder> [size=] [val=] [test=] [flip=] [crop=] [strict=on]`: the
/// user's own classification images, one subfolder per class (or train/ val/
/// test/ subfolders laid out so), PNG or JPEG of any size.
public struct ImageFolderSource: FolderSource {
    public static let task = LearningTask.classification
    public static let word = "images"
    public static let arguments = "<folder> " + FolderOptions.arguments
    public static let summary = "your images: <folder>/<class>/<image> (PNG, JPEG); size= (auto), val= test= (0.1)"
    public static let completions = FolderOptions.completions

    public var path: String
    public var options: FolderOptions
    /// The listing the session's images were decoded from, and their size (set by a load).
    public var listingKey: String?, loadedSize: ImageSize?

    public init(path: String, options: FolderOptions = FolderOptions()) {
        self.path = path
        self.options = options
    }

    public init(_ a: inout Arguments) throws {
        path = FolderDataset.absolute(try a.required("the folder of class folders"))
        options = try FolderOptions(&a)
    }

    public var name: String { "images in \(URL(fileURLWithPath: path).lastPathComponent)/" }
}
