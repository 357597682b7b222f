"""Hardware IoT devices: wire-protocol codecs, the TCP gateway, serial readers, device profiles."""
