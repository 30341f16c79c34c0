"""Fast recurrent layers for CPUs: hoisted input projections, time loops as single autograd
nodes with hand-written BPTT (TorchScript-compiled), and fp32 GEMMs through oneDNN."""
