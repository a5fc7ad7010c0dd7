import Foundation
import Interface
import Tensor

/// `masks <folder> [size=] …`: the user's own segmentation set, images/ and
/// masks/ with the same file names (or train/ val/ test/ subfolders each with
/// the two); masks are index PNGs, or colour PNGs named by classes.txt.
public struct MaskFolderSource: FolderSource {
    public static let task = LearningTask.segmentation
    public static let word = "masks"
    public static let arguments = "<folder> " + FolderOptions.arguments
    public static let summary = "your segmentation set: <folder>/images/, <folder>/masks/ (PNG), [classes.txt]"
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
        path = FolderDataset.absolute(try a.required("the folder with images/ and masks/"))
        options = try FolderOptions(&a)
    }

    public var name: String { "masks in \(URL(fileURLWithPath: path).lastPathComponent)/" }
}
