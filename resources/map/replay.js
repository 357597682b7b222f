/* Fleet Console route replay glue: one vehicle's track, its gaps and a cursor marker.
 *
 * Python (app/views/route_replay.py) builds the page once and then only calls:
 *   routeReplay.setTrack(segments)   segments: [[[lat, lon], ...], ...], split at gaps
 *   routeReplay.cursor(lat, lon)     move the cursor marker (null, null hides it)
 *   routeReplay.state()              what is drawn, for tests and diagnostics
 * The zones (resources/map/zones.js, read-only here) are drawn under the track.
 * Segments are solid polylines; each gap (the end of one segment to the start of the
 * next) is a thin dashed grey line, so the eye sees "no data here", not a drive.
 * pageReady() on the QWebChannel object "bridge" says the page accepts calls.
 */
"use strict";

window.routeReplay = (function () {
  let map = null;
  let trackLayer = null;
  let cursorMarker = null;
  let config = null;

  function init(options) {
    config = options;
    map = L.map("map", { zoomControl: true }).setView(config.center, config.zoom);
    L.tileLayer(config.tileUrl, {
      maxZoom: 19,
      attribution: "&copy; OpenStreetMap contributors",
    }).addTo(map);
    L.control.scale().addTo(map);
    trackLayer = L.layerGroup().addTo(map);
    new QWebChannel(qt.webChannelTransport, function (channel) {
      channel.objects.bridge.pageReady();
    });
  }

  function setTrack(segments) {
    trackLayer.clearLayers();
    let bounds = null;
    segments.forEach(function (points, index) {
      const line = L.polyline(points, {
        color: config.trackColour,
        weight: 4,
        opacity: 0.85,
      });
      line.segmentIndex = index;
      trackLayer.addLayer(line);
      if (points.length > 0) {
        bounds = bounds ? bounds.extend(line.getBounds()) : line.getBounds();
      }
      const next = segments[index + 1];
      if (next && points.length > 0 && next.length > 0) {
        const gap = L.polyline([points[points.length - 1], next[0]], {
          color: config.gapColour,
          weight: 2,
          dashArray: "6 8",
        });
        gap.isGap = true;
        trackLayer.addLayer(gap);
      }
    });
    if (bounds) {
      map.fitBounds(bounds.pad(0.1));
    }
  }

  function cursor(lat, lon) {
    if (lat === null || lon === null) {
      if (cursorMarker) {
        cursorMarker.remove();
        cursorMarker = null;
      }
      return;
    }
    if (!cursorMarker) {
      cursorMarker = L.circleMarker([lat, lon], {
        radius: 8,
        color: "#1b1b1b",
        weight: 2,
        fillColor: config.cursorColour,
        fillOpacity: 1,
      }).addTo(map);
    } else {
      cursorMarker.setLatLng([lat, lon]);
    }
  }

  function state() {
    const lines = [];
    let gaps = 0;
    trackLayer.eachLayer(function (layer) {
      if (layer.isGap) {
        gaps += 1;
      } else {
        lines.push(layer.getLatLngs().map((p) => [p.lat, p.lng]));
      }
    });
    const at = cursorMarker ? cursorMarker.getLatLng() : null;
    return { segments: lines, gaps: gaps, cursor: at ? [at.lat, at.lng] : null };
  }

  return {
    init: init,
    setTrack: setTrack,
    cursor: cursor,
    state: state,
    map: function () {
      return map; // zones.js draws the zones on it (read-only)
    },
  };
})();
