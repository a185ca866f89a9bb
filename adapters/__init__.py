"""How video and data come in: Frigate, ONVIF, RTSP and bus DVR adapters."""

__all__: list[str] = []
