"""Tools apart from the product: the headless peer and the deployment audit.

The server never imports this package (a test checks it). ``peer`` needs the
optional extra ``sprechzimmer[peer]`` (aiortc, PyAV, FFmpeg), which a server
install does not pull; ``audit`` needs nothing beyond the server's own
dependencies. Both are reached through ``sprechzimmer peer`` and
``sprechzimmer audit``.
"""
