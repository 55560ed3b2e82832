"""`cpt demo`: the whole pipeline on this machine, with only the P5 training simulated."""
