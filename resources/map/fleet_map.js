/* Fleet Console map glue: vehicle circles on one canvas, grid clusters when zoomed out.
 *
 * Python builds the page once (folium) and then only pushes data:
 *   fleetMap.set(records)            every vehicle (after a fleet reload)
 *   fleetMap.update(records, gone)   changed vehicles, ids of removed ones
 *   fleetMap.focus(id)               a new selection: highlight it, centre on it once
 *                                    (null releases it)
 *   fleetMap.painted(token)          reports token back once the change is on screen
 * Zones (resources/map/zones.js) are drawn on the same canvas, below the vehicles.
 * A record is [id, lat, lon, kind, status, label]. Clicks go back through the
 * QWebChannel object "bridge" (markerClicked(id)).
 *
 * Every vehicle is an L.circleMarker on the canvas renderer: 10,000 DOM icons cannot be
 * moved live on an ordinary CPU, canvas circles can (setLatLng, one canvas redraw per
 * frame). Clustering is done here, not with leaflet.markercluster: that plugin keeps a
 * cluster tree for every zoom level and re-indexes each moved marker through all of
 * them, which made moving 10,000 vehicles take over a second. Our clusters are a plain
 * grid in pixels at the current zoom (CELL px squares), recomputed in one pass over the
 * vehicles after each push or zoom (a few ms for 10,000): a cell holding one vehicle
 * shows its circle, a fuller cell one numbered bubble (a DOM divIcon: a few hundred at
 * most, reused between passes). Grid cells are cruder than markercluster's distance
 * clusters (two close vehicles either side of a cell edge stay apart), which is fine
 * for an overview that splits up once zoomed in. From config.unclusterZoom on, every
 * vehicle is its own circle.
 *
 * The view belongs to the user: only a new selection moves it (once; if the vehicle has
 * no position yet, once it gets one). Data pushes move and re-colour markers and keep
 * the selected one highlighted, but never pan or zoom, so an overview with a selection
 * stays an overview.
 */
"use strict";

window.fleetMap = (function () {
  const CELL = 60;
  let map = null;
  let renderer = null;
  let vehicleLayer = null; // the circles on the map now
  let clusterLayer = null; // the bubbles on the map now
  let bridge = null;
  let config = null;
  let highlighted = null; // the selected vehicle's marker, while it has a position
  let selectedId = null;
  let centrePending = false; // selected, but not yet centred on (no position so far)
  let fitted = false;
  const markers = new Map(); // id -> circleMarker, for every vehicle with a position
  const bubbles = new Map(); // grid cell key -> bubble marker

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
        bridge.markerClicked(marker.vehicleId);
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

  function bubbleIcon(count) {
    const size = count < 10 ? "small" : count < 100 ? "medium" : "large";
    return L.divIcon({
      html: "<div><span>" + count + "</span></div>",
      className: "fleet-cluster fleet-cluster-" + size,
      iconSize: L.point(36, 36),
    });
  }

  function makeBubble() {
    const bubble = L.marker([0, 0], { keyboard: false });
    bubble.on("click", function () {
      const bounds = L.latLngBounds(bubble.members.map((m) => m.getLatLng()));
      const zoom = Math.min(map.getBoundsZoom(bounds), config.unclusterZoom);
      map.setView(bounds.getCenter(), Math.max(zoom, map.getZoom() + 1), { animate: false });
    });
    return bubble;
  }

  function placeBubble(key, members) {
    let lat = 0;
    let lng = 0;
    for (const m of members) {
      const ll = m.getLatLng();
      lat += ll.lat;
      lng += ll.lng;
    }
    let bubble = bubbles.get(key);
    if (!bubble) {
      bubble = makeBubble();
      bubbles.set(key, bubble);
    }
    bubble.members = members;
    bubble.setLatLng([lat / members.length, lng / members.length]);
    if (bubble.count !== members.length) {
      bubble.count = members.length;
      bubble.setIcon(bubbleIcon(members.length));
    }
    if (!clusterLayer.hasLayer(bubble)) {
      clusterLayer.addLayer(bubble);
    }
  }

  /* Decide what is on the map: every circle (zoomed in), or per grid cell one circle or
   * one bubble (zoomed out). Only differences touch the map. */
  function layout() {
    const singles = new Set();
    const used = new Set();
    if (map.getZoom() >= config.unclusterZoom) {
      for (const marker of markers.values()) {
        singles.add(marker);
      }
    } else {
      const zoom = map.getZoom();
      const cells = new Map();
      for (const marker of markers.values()) {
        if (marker === highlighted) {
          singles.add(marker); // the selected vehicle never hides in a bubble
          continue;
        }
        const p = map.project(marker.getLatLng(), zoom);
        const key = Math.floor(p.x / CELL) + ":" + Math.floor(p.y / CELL);
        const cell = cells.get(key);
        if (cell) {
          cell.push(marker);
        } else {
          cells.set(key, [marker]);
        }
      }
      for (const [key, members] of cells) {
        if (members.length === 1) {
          singles.add(members[0]);
        } else {
          placeBubble(key, members);
          used.add(key);
        }
      }
    }
    for (const [key, bubble] of bubbles) {
      if (!used.has(key)) {
        clusterLayer.removeLayer(bubble);
        bubbles.delete(key);
      }
    }
    vehicleLayer.eachLayer(function (marker) {
      if (!singles.has(marker)) {
        vehicleLayer.removeLayer(marker);
      }
    });
    for (const marker of singles) {
      if (!vehicleLayer.hasLayer(marker)) {
        vehicleLayer.addLayer(marker);
      }
    }
    if (highlighted && vehicleLayer.hasLayer(highlighted)) {
      highlighted.bringToFront();
    }
  }

  function set(records) {
    vehicleLayer.clearLayers();
    markers.clear();
    highlighted = null;
    for (const record of records) {
      if (valid(record)) {
        markers.set(record[0], make(record));
      }
    }
    if (!fitted && markers.size) {
      fitted = true;
      const bounds = L.latLngBounds(Array.from(markers.values(), (m) => m.getLatLng()));
      map.fitBounds(bounds, { maxZoom: 15, animate: false });
    }
    followSelection();
    layout();
  }

  /* After a push: the selected vehicle's (possibly new) marker is the highlighted one;
   * centre on it only if its selection is still waiting for a position. */
  function followSelection() {
    const marker = selectedId === null ? null : markers.get(selectedId) || null;
    if (marker !== highlighted) {
      const previous = highlighted;
      highlighted = marker;
      if (previous && markers.get(previous.vehicleId) === previous) {
        restyle(previous);
      }
      if (marker) {
        restyle(marker);
      }
    }
    if (marker && centrePending) {
      centre(marker);
    }
  }

  function centre(marker) {
    centrePending = false;
    const zoom = Math.max(map.getZoom(), config.unclusterZoom);
    map.setView(marker.getLatLng(), zoom, { animate: false });
  }

  function update(records, gone) {
    for (const id of gone || []) {
      const marker = markers.get(id);
      if (marker) {
        vehicleLayer.removeLayer(marker);
        markers.delete(id);
      }
    }
    for (const record of records) {
      const old = markers.get(record[0]);
      if (!valid(record)) {
        if (old) {
          vehicleLayer.removeLayer(old);
          markers.delete(record[0]);
        }
        continue;
      }
      if (!old) {
        markers.set(record[0], make(record));
        continue;
      }
      const before = old.record;
      old.record = record;
      if (before[1] !== record[1] || before[2] !== record[2]) {
        old.setLatLng([record[1], record[2]]);
      }
      if (before[3] !== record[3] || before[4] !== record[4]) {
        restyle(old);
      }
      if (before[5] !== record[5]) {
        old.setTooltipContent(record[5]);
      }
    }
    followSelection();
    layout();
  }

  function focus(id) {
    selectedId = id === undefined ? null : id;
    centrePending = selectedId !== null;
    followSelection();
    layout();
    return highlighted !== null;
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

  function addStyles() {
    const css = document.createElement("style");
    css.textContent =
      ".fleet-cluster div{width:30px;height:30px;margin:3px;border-radius:15px;" +
      "display:flex;align-items:center;justify-content:center;" +
      "font:bold 12px sans-serif;color:#fff;box-shadow:0 0 0 3px rgba(255,255,255,.6)}" +
      ".fleet-cluster-small div{background:rgba(46,157,79,.85)}" +
      ".fleet-cluster-medium div{background:rgba(31,111,178,.85)}" +
      ".fleet-cluster-large div{background:rgba(123,31,162,.85)}";
    document.head.appendChild(css);
  }

  function init(leafletMap, pageConfig) {
    map = leafletMap;
    config = pageConfig;
    renderer = L.canvas({ padding: 0.5 });
    vehicleLayer = L.layerGroup().addTo(map);
    clusterLayer = L.layerGroup().addTo(map);
    addStyles();
    map.on("zoomend", layout);
    new QWebChannel(qt.webChannelTransport, function (channel) {
      bridge = channel.objects.bridge;
      if (window.fleetZones) {
        fleetZones.connect(channel.objects.zones); // zones.js: drawing and editing zones
      }
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
    renderer: function () {
      return renderer; // zones.js draws the zones on it, below the vehicles
    },
    vehicleMarkers: function () {
      return Array.from(markers.values());
    },
    clusterCounts: function () {
      return Array.from(bubbles.values(), (b) => b.count);
    },
  };
})();
