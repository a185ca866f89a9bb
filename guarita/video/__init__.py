"""Live view and playback of shared cameras for the centres: views, one upstream ffmpeg per camera, fMP4 over HTTP.

* ``source``: where a camera's video is pulled from (Frigate's restream or the camera's own RTSP);
* ``command``: the ffmpeg command line (remux, or transcode with the privacy masks burned in);
* ``fmp4``: reading ffmpeg's fragmented MP4 box by box (init segment, then fragments);
* ``upstream``: one ffmpeg per camera whose fragments fan out to every viewer;
* ``views``: the book of open views, their limits and their audit entries;
* ``hub``: the gate, the views and the upstreams together, and the watcher that ends streams.
* ``playback``: a past window of a camera, only its shared periods, from Frigate or the cloud copy.

The HTTP routes are in ``guarita.web.api_views`` and ``guarita.web.api_playback``. See docs/video.md.

Covers: BH-11, BH-05, BH-07, BH-09.
"""

from guarita.video.hub import VideoHub
from guarita.video.views import View, ViewBook, ViewLimitReached

__all__ = ["VideoHub", "View", "ViewBook", "ViewLimitReached"]
