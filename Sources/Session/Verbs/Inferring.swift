import Datasets
import Files
import Foundation
import Interface
import Render
import SuperNet
import Tensor

/// What `infer` reports: per image, the top classes (classification) or the
/// class shares of its pixels and the pictures written (segmentation).
public struct InferenceReport: Output, Sendable {
    public struct Image: Codable, Sendable {
        public let path: String, width: Int, height: Int
        /// How the image was brought to the network's input ("resized 640x480 → 32x32", "as in the test pipeline").
        public let preparation: String
        /// Classification: the 5 most probable classes; segmentation: each class's share of the pixels.
        public let classes: [ClassValue]
        /// Segmentation: the mask and overlay PNGs written beside the image.
        public let mask: String?, overlay: String?
    }

    public struct ClassValue: Codable, Sendable {
        public let name: String, value: Double
    }

    public let model: String, segmentation: Bool
    public let images: [Image]

    public var text: String {
        var lines = ["\(model)"]
        for image in images {
            lines.append("")
            lines.append("\(image.path) (\(image.width)x\(image.height), \(image.preparation))")
            if segmentation {
                lines.append("  pixels: " + image.classes.map { "\($0.name) \(Format.fixed(100 * $0.value, 1))%" }.joined(separator: ", "))
                if let mask = image.mask, let overlay = image.overlay { lines.append("  wrote \(mask) and \(overlay)") }
            } else {
                for (k, c) in image.classes.enumerated() {
                    lines.append(String(format: "  %d. %@ %@", k + 1, Table.pad(c.name, 16), Format.fixed(c.value, 4)))
                }
            }
        }
        return lines.joined(separator: "\n")
    }
}

extension Session {
    /// Writes the deterministic architecture as a self-contained model file (`ExportedModel`).
    @discardableResult
    public func exportModel(to path: String) throws -> Message {
        let written = try ExportedModel.write(session: self, to: path)
        let model = try ExportedModel(file: path)
        return Message("wrote \(path) (\(Format.quantity(Double(written.bytes))) bytes): \(model.header.fabric.summary), "
                       + "\(model.network.moduleCount(of: model.architecture)) of \(model.network.moduleCount) modules, "
                       + "flops \(Format.quantity(model.header.costs["flops"] ?? 0)), params \(Format.quantity(model.header.costs["params"] ?? 0)); "
                       + "bsn infer \(path) <image> runs it" + (written.note.map { "\n" + $0 } ?? ""))
    }

    /// Runs the session's deterministic architecture on image files (PNG or JPEG).
    public func infer(_ paths: [String], fit: ImageFit = .crop) throws -> InferenceReport {
        try ExportedModel(session: self).infer(paths, fit: fit)
    }
}

/// How an image of another size than the dataset's is brought to it.
public enum ImageFit: String, CaseIterable, Sendable {
    /// The shorter side resized to the dataset's, then the centre cropped (the test pipelines' convention).
    case crop
    /// Both sides resized: the image is stretched when its aspect differs.
    case stretch
}

extension ExportedModel {
    /// Runs the model on image files (PNG or JPEG): classification gives the
    /// top 5 classes; segmentation writes `<name>.mask.png` and
    /// `<name>.overlay.png` beside each image and gives the class shares.
    public func infer(_ paths: [String], fit: ImageFit = .crop) throws -> InferenceReport {
        guard !paths.isEmpty else { throw SessionError("which images? (infer photo.jpg [more…])") }
        let h = header
        var images = [InferenceReport.Image]()
        for path in paths {
            let picture = try Self.readImage(path)
            let (prediction, preparation) = try predict(picture, fit: fit)
            switch prediction {
            case .classes(let p):
                let ranked = p.indices.sorted { p[$0] != p[$1] ? p[$0] > p[$1] : $0 < $1 }.prefix(5)
                images.append(.init(path: path, width: picture.width, height: picture.height, preparation: preparation,
                                    classes: ranked.map { .init(name: h.classNames[$0], value: p[$0]) }, mask: nil, overlay: nil))
            case .mask(let mask):
                images.append(try writeMask(mask, of: picture, at: path, preparation: preparation))
            }
        }
        return InferenceReport(model: "\(h.fabric.summary) on \(h.dataset), step \(h.step) of '\(h.session)'", segmentation: h.segmentation, images: images)
    }

    /// What the model says of one image.
    public enum Prediction: Equatable, Sendable {
        /// Classification: each class's probability (softmax of the logits).
        case classes([Double])
        /// Segmentation: each pixel's class, (height, width) of the image.
        case mask([Int32])
    }

    /// The prediction for one image, and how it was brought to the network's input.
    public func predict(_ picture: RGBImage, fit: ImageFit = .crop) throws -> (Prediction, preparation: String) {
        let (input, geometry, preparation) = try prepare(picture, fit: fit)
        let logits = try self.logits(input)
        let k = logits.dim(-1)
        guard header.segmentation else {
            let scores = (0..<k).map { Double(logits.data[$0]) }, top = scores.max()!
            let exps = scores.map { Foundation.exp($0 - top) }, sum = exps.reduce(0, +)
            return (.classes(exps.map { $0 / sum }), preparation)
        }
        // Classes of the image's region of the input, then back at the image's own size (nearest neighbour).
        let h = header
        let offY = (h.inputHeight - h.imageHeight) / 2, offX = (h.inputWidth - h.imageWidth) / 2
        var classes = [Int32](repeating: 0, count: h.imageHeight * h.imageWidth)
        for y in 0..<h.imageHeight {
            for x in 0..<h.imageWidth {
                classes[y * h.imageWidth + x] = Int32(argmax(logits.data + ((y + offY) * h.inputWidth + x + offX) * k, count: k))
            }
        }
        // Each pixel of the image takes the class of where it landed (a cropped-off border: the nearest kept pixel's).
        let w = picture.width, ht = picture.height
        return (.mask((0..<w * ht).map { p in
            let (u, v) = geometry.position(x: p % w, y: p / w)
            return classes[v * h.imageWidth + u]
        }), preparation)
    }

    /// Where an image's pixels land in the dataset-sized image: scaled by (sx, sy), then shifted by the crop.
    struct Geometry {
        let sx: Double, sy: Double, cropX: Int, cropY: Int, width: Int, height: Int
        func position(x: Int, y: Int) -> (Int, Int) {
            (max(0, min(width - 1, Int((Double(x) + 0.5) * sx) - cropX)), max(0, min(height - 1, Int((Double(y) + 0.5) * sy) - cropY)))
        }
    }

    /// An image file's RGB pixels, decoded as `load images` decodes: any PNG or
    /// JPEG, by content, alpha composited on black. Only a regular file is read.
    public static func readImage(_ path: String) throws -> RGBImage {
        let bytes: Data
        do { bytes = try RegularFile.read(path, limit: ImageDecoding.maxFileBytes) } catch {
            throw SessionError((error as? FileError)?.kind == .missing ? "\(path): no such image" : "\(error)", kind: (error as? FileError)?.kind == .missing ? .missing : .other)
        }
        do { return try ImageDecoding.rgb(bytes, path) } catch {
            throw SessionError((error as? DataError)?.kind == .notAnImage ? "\(path): neither a PNG nor a JPEG file" : "\(error)")
        }
    }

    /// The network's input for one image, as the test pipeline makes it: an
    /// image of the dataset's size is centred on the input canvas (black
    /// padding); another size is first brought to the dataset's (bilinear):
    /// its shorter side resized and the centre cropped (`fit` crop), or both
    /// sides resized (stretch).
    func prepare(_ picture: RGBImage, fit: ImageFit) throws -> (Tensor, Geometry, String) {
        let h = header
        var image = picture, preparation = "as in the test pipeline"
        var geometry = Geometry(sx: 1, sy: 1, cropX: 0, cropY: 0, width: h.imageWidth, height: h.imageHeight)
        if picture.width != h.imageWidth || picture.height != h.imageHeight {
            let size = "\(picture.width)x\(picture.height)", target = "\(h.imageWidth)x\(h.imageHeight)"
            let sameAspect = picture.width * h.imageHeight == picture.height * h.imageWidth
            if fit == .stretch && !sameAspect {
                image = picture.resized(width: h.imageWidth, height: h.imageHeight)
                geometry = Geometry(sx: Double(h.imageWidth) / Double(picture.width), sy: Double(h.imageHeight) / Double(picture.height),
                                    cropX: 0, cropY: 0, width: h.imageWidth, height: h.imageHeight)
                preparation = "resized \(size) → \(target), the dataset's size (stretched: fit=stretch)"
            } else {
                // As load images brings a file to its size (Resize + CenterCrop, antialiased): the same file gives the same input.
                let fitting = Fit(width: picture.width, height: picture.height, to: ImageSize(height: h.imageHeight, width: h.imageWidth))
                let (rw, rh) = (fitting.resizedWidth, fitting.resizedHeight)
                image = fitting.image(picture)
                geometry = Geometry(sx: Double(rw) / Double(picture.width), sy: Double(rh) / Double(picture.height),
                                    cropX: fitting.cropX, cropY: fitting.cropY, width: h.imageWidth, height: h.imageHeight)
                preparation = sameAspect ? "resized \(size) → \(target), the dataset's size"
                    : "resized \(size) → \(rw)x\(rh) (shorter side), centre \(target) cropped; fit=stretch resizes both sides"
            }
        }
        if h.inputWidth != h.imageWidth || h.inputHeight != h.imageHeight {
            preparation += ", centred in \(h.inputWidth)x\(h.inputHeight)"
        }
        let input = Tensor(shape: [1, h.inputHeight, h.inputWidth, h.channels])
        input.fill(h.normalisationOffset)               // black padding
        let offY = (h.inputHeight - h.imageHeight) / 2, offX = (h.inputWidth - h.imageWidth) / 2
        for y in 0..<h.imageHeight where y + offY >= 0 && y + offY < h.inputHeight {
            for x in 0..<h.imageWidth where x + offX >= 0 && x + offX < h.inputWidth {
                for c in 0..<h.channels {
                    // Grey models take the mean of R, G, B; colour models R, G, B.
                    let byte = h.channels == 3 ? image.pixels[3 * (y * h.imageWidth + x) + c]
                        : UInt8((Int(image.pixels[3 * (y * h.imageWidth + x)]) + Int(image.pixels[3 * (y * h.imageWidth + x) + 1])
                                 + Int(image.pixels[3 * (y * h.imageWidth + x) + 2])) / 3)
                    input.data[((y + offY) * h.inputWidth + x + offX) * h.channels + c] = Float(byte) / h.normalisationDivisor + h.normalisationOffset
                }
            }
        }
        return (input, geometry, preparation)
    }

    /// Writes `<name>.mask.png` and `<name>.overlay.png` beside the image (the colours of `render masks`).
    private func writeMask(_ mask: [Int32], of picture: RGBImage, at path: String, preparation: String) throws -> InferenceReport.Image {
        let w = picture.width, ht = picture.height
        var shares = [Double](repeating: 0, count: header.classNames.count)
        for c in mask { shares[Int(c)] += 1 }
        let stem = (path as NSString).deletingPathExtension
        let maskPath = stem + ".mask.png", overlayPath = stem + ".overlay.png"
        let colours = mask.map { ColourMap.qualitative(Int($0)).bytes }
        var maskImage = RGBAImage(width: w, height: ht, pixels: [UInt8](repeating: 255, count: w * ht * 4)), overlay = maskImage
        for p in 0..<w * ht {
            for c in 0..<3 {
                maskImage.pixels[4 * p + c] = colours[p][c]
                overlay.pixels[4 * p + c] = UInt8((Int(picture.pixels[3 * p + c]) + Int(colours[p][c]) + 1) / 2)
            }
        }
        do {
            try PNG.write(maskImage, to: maskPath)
            try PNG.write(overlay, to: overlayPath)
        } catch { throw SessionError("\(error)") }
        return .init(path: path, width: w, height: ht, preparation: preparation,
                     classes: shares.enumerated().map { .init(name: header.classNames[$0.offset], value: $0.element / Double(mask.count)) },
                     mask: maskPath, overlay: overlayPath)
    }
}

extension RGBImage {
    /// Bilinear resampling to another size (pixel centres aligned).
    func resized(width w: Int, height h: Int) -> RGBImage {
        var out = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            let sy = max(0, min(Double(height - 1), (Double(y) + 0.5) * Double(height) / Double(h) - 0.5))
            let y0 = Int(sy), y1 = min(y0 + 1, height - 1), fy = sy - Double(y0)
            for x in 0..<w {
                let sx = max(0, min(Double(width - 1), (Double(x) + 0.5) * Double(width) / Double(w) - 0.5))
                let x0 = Int(sx), x1 = min(x0 + 1, width - 1), fx = sx - Double(x0)
                for c in 0..<3 {
                    func p(_ yy: Int, _ xx: Int) -> Double { Double(pixels[3 * (yy * width + xx) + c]) }
                    let v = (1 - fy) * ((1 - fx) * p(y0, x0) + fx * p(y0, x1)) + fy * ((1 - fx) * p(y1, x0) + fx * p(y1, x1))
                    out[3 * (y * w + x) + c] = UInt8(max(0, min(255, v.rounded())))
                }
            }
        }
        return RGBImage(width: w, height: h, pixels: out)
    }
}
