"""Standard evaluation protocols on public benchmarks (LFW's 10-fold pair verification: ``lfw_pairs``)."""
