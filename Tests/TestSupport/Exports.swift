// The official-format dataset writers, for every test that imports TestSupport.
@_exported import DatasetFiles
