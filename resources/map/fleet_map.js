/* Fleet Console map glue: one canvas layer of vehicle markers, updated in place.
 *
 * Python builds the page once (folium) and then only pushes data:
 *   fleetMap.set(records)            every vehicle (after a fleet reload)
 *   fleetMap.update(records, gone)   changed vehicles, ids of removed ones
 *   fleetMap.focus(id)               highlight and centre one vehicle
 *   fleetMap.painted(token)          reports token back once the change is on screen
 * A record is [id, lat, lon, kind, status, label]. Clicks go back through the
 * QWebChannel object "bridge" (markerClicked(id)).
 *
 * Markers are L.circleMarker on the canvas renderer: 10,000 DOM icons cannot be moved
 * live on an ordinary CPU, canvas circles can. leaflet.markercluster groups them when
 * zoomed out (its cluster bubbles are few DOM nodes); zoomed in, clustering stops and
 * every vehicle is its own canvas circle.
 */
"use strict";

window.fleetMap = (function () {
  let map = null;
  let group = null;
  let renderer = null;
  let bridge = null;
  let config = null;
  let highlighted = null;
  let fitted = false;
  const markers = new Map();

  function style(record) {
    const car = record[3] === "car";
    return {
      renderer: renderer,
      radius: car ? config.carRadius : config.smallRadius,
      color: car ? config.carBorder : config.smallBorder,
      weight: car ? 2 : 1,
      fillColor: config.statusColours[record[4]] || config.unknownColour,
      fillOpacity: 0.9,
    };
  }

  function valid(record) {
    return Number.isFinite(record[1]) && Number.isFinite(record[2]);
  }

  function make(record) {
    const marker = L.circleMarker([record[1], record[2]], style(record));
    marker.vehicleId = record[0];
    marker.record = record;
    marker.bindTooltip(record[5]);
    marker.on("click", function () {
      if (bridge) {
        bridge.markerClicked(record[0]);
      }
    });
    return marker;
  }

  function restyle(marker) {
    const base = style(marker.record);
    if (marker === highlighted) {
      base.radius += 4;
      base.weight = 4;
      base.color = config.highlightBorder;
    }
    marker.setStyle(base);
  }

  function set(records) {
    group.clearLayers();
    markers.clear();
    highlighted = null;
    const list = records.filter(valid).map(make);
    for (const marker of list) {
      markers.set(marker.vehicleId, marker);
    }
    group.addLayers(list);
    if (!fitted && list.length) {
      fitted = true;
      map.fitBounds(L.latLngBounds(list.map((m) => m.getLatLng())), { maxZoom: 15, animate: false });
    }
  }

  function update(records, gone) {
    const removed = [];
    const added = [];
    for (const id of gone || []) {
      const marker = markers.get(id);
      if (marker) {
        removed.push(marker);
        markers.delete(id);
      }
    }
    for (const record of records) {
      const old = markers.get(record[0]);
      if (old) {
        removed.push(old);
        markers.delete(record[0]);
      }
      if (valid(record)) {
        const marker = old || make(record);
        marker.record = record;
        marker.setLatLng([record[1], record[2]]);
        marker.setTooltipContent(record[5]);
        restyle(marker);
        markers.set(record[0], marker);
        added.push(marker);
      }
    }
    // The cluster index cannot follow a moved marker in place: bulk remove + re-add is
    // the fast path it offers (one re-cluster instead of one per marker).
    if (removed.length > markers.size / 4) {
      group.clearLayers(); // many moved: rebuilding the index beats per-marker removal
      group.addLayers(Array.from(markers.values()));
    } else {
      group.removeLayers(removed);
      group.addLayers(added);
    }
    if (highlighted && !markers.has(highlighted.vehicleId)) {
      highlighted = null;
    }
  }

  function focus(id) {
    const previous = highlighted;
    highlighted = markers.get(id) || null;
    if (previous && previous !== highlighted) {
      restyle(previous);
    }
    if (!highlighted) {
      return false;
    }
    restyle(highlighted);
    const zoom = Math.max(map.getZoom(), config.unclusterZoom);
    map.setView(highlighted.getLatLng(), zoom, { animate: false });
    highlighted.bringToFront();
    return true;
  }

  function painted(token) {
    requestAnimationFrame(function () {
      requestAnimationFrame(function () {
        if (bridge) {
          bridge.frameShown(token);
        }
      });
    });
  }

  function positions() {
    const out = {};
    for (const [id, marker] of markers) {
      const ll = marker.getLatLng();
      out[id] = [ll.lat, ll.lng, marker.options.fillColor, marker.options.radius];
    }
    return out;
  }

  function init(leafletMap, pageConfig) {
    map = leafletMap;
    config = pageConfig;
    renderer = L.canvas({ padding: 0.5 });
    group = L.markerClusterGroup({
      chunkedLoading: true,
      disableClusteringAtZoom: config.unclusterZoom,
      maxClusterRadius: 45,
      showCoverageOnHover: false,
      spiderfyOnMaxZoom: false,
    });
    map.addLayer(group);
    new QWebChannel(qt.webChannelTransport, function (channel) {
      bridge = channel.objects.bridge;
      bridge.pageReady();
    });
  }

  return {
    init: init,
    set: set,
    update: update,
    focus: focus,
    painted: painted,
    positions: positions,
    count: function () {
      return markers.size;
    },
    highlightedId: function () {
      return highlighted ? highlighted.vehicleId : null;
    },
    map: function () {
      return map;
    },
    group: function () {
      return group;
    },
  };
})();
