"""Built-in check types: one module per NodePing type, loaded through ``prober.registry``."""
