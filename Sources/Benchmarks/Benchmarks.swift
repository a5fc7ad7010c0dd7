public enum Benchmarks {}
