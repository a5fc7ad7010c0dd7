import Datasets
import Foundation
import Interface
import Session
import SuperNet

struct RenderCommand: Command {
    let name = "render"
    let group = CommandGroup.pictures
    let effect: CommandEffect = [.changesState, .leaderOnly]
    let usage = "render graph|arch|masks|history|pareto <file.png> [options]"
    let summary = "draws the super network, the found architecture, segmentation masks or training plots to a PNG"
    let example = "render graph fabric.png"
    let details = """
    graph     every module coloured and sized by its keep probability (--schedule=n: by the step at
              which the list schedule on n machines runs it, as the parallel cost sees it;
              allocation=critical-path schedules the longest remaining path first)
    arch      the deterministic architecture: kept modules strong, dropped ones faded
    masks     segmentation: input | ground truth | prediction | overlay for n= examples (4) of split= (val)
    history   loss, accuracy, cost against the budget, gate entropy over the steps
    pareto    the sweep's models (pareto), the front as a staircase, its test accuracy; without a sweep,
              this session's evaluations and the saved sessions on the same data
    --width=  image width in pixels (1200)
    A copy of each picture is kept in the session's folder.
    """
    static let pictures = ["graph", "arch", "masks", "history", "pareto"]
    let words = pictures + ["--width=", "--schedule=", "allocation=", "n=", "split="]

    func run(_ a: inout Arguments, _ nb: Notebook) throws -> any Output {
        let kind = try a.required("what to draw: graph, arch, masks, history or pareto")
        let path = try a.required("a file name ending in .png")
        let width = try a.int("--width", "width", default: 1200, range: 320...8000)!
        let picture: Picture
        switch kind {
        case "graph":
            let machines = try a.int("--schedule", "schedule", range: 1...1024)
            let allocation: ParallelCost.Allocation = try a.choice("allocation") ?? .reference
            picture = .graph(schedule: machines, allocation: allocation)
        case "arch": picture = .architecture
        case "masks": picture = .masks(count: try a.int("n", default: 4, range: 1...32)!, split: try Split(parsing: a.option("split") ?? "val"))
        case "history": picture = .history
        case "pareto": picture = .pareto(store: nb.store)
        default:
            throw UsageError("render: unknown picture '\(kind)'" + didYouMean(kind, in: Self.pictures))
        }
        try a.finish()
        return try nb.session.render(picture, to: path, width: width, store: nb.store)
    }
}
