// The Session API as one library. A Swift package that depends on bsn's
// `BSN` product runs budgeted architecture searches without the notebook:
//
//     import BSN
//     let session = Session(name: "search")
//     try session.load(Shapes(train: 2000))
//     try session.build(.cnf(columns: 4, scales: 3, channels: 8, segmentation: false, gated: true))
//     try session.budget(FlopsCost.Choice(), Budget(limit: 1e6, lambda: 1e-6))
//     try session.train(.epochs(5))
//
// See samples/api/ for a complete program.
@_exported import Datasets
@_exported import Interface
@_exported import Render
@_exported import Session
@_exported import SuperNet
@_exported import Tensor
