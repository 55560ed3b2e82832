"""Development only, never shipped: the AWS emulator, `cpt demo`, the stand-in Kubernetes API, scripted fakes."""
