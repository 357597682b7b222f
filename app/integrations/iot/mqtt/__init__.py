"""Devices over MQTT: vendor profiles (topics, payload mapping, commands) and the client.

The TCP gateway's codecs own a byte stream each; here the broker owns the transport and
a profile says which topics carry whose reports and how a JSON payload maps onto a
:class:`~app.integrations.iot.records.DeviceRecord`. The records go to the same
``RecordSink`` as the gateway's, so an MQTT bike's report is stored like any other.
"""
