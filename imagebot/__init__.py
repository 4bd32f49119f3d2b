"""The program: the `imagebot` command line and the one composition root that wires the core, storage and the
Slack edge together. The only package that imports all of them."""
