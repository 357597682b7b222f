/* Fleet Console zone layer: service areas, parking, no-parking and slow zones on a map.
 *
 * Shared by the fleet map (drawing and editing, through Leaflet-Geoman when it is
 * installed) and the route replay (read-only). Python (app/views/map_zones.py) calls:
 *   fleetZones.init(map, options)   once, after the Leaflet map exists; options:
 *       {styles: {kind: path style}, labels: {kind: legend text}, renderer: optional
 *        L.Canvas to draw on (the fleet map passes its vehicle canvas, see below)}
 *   fleetZones.show(shapes)          every zone: [{id, name, kind, ring: [[lon, lat], ...]}]
 *   fleetZones.setVisible(on)        show / hide the zones and the legend
 *   fleetZones.setMode(mode)         "view", "draw", "edit" (vertices) or "delete" (click)
 *   fleetZones.connect(bridge)       the QWebChannel object "zones", handed over by the
 *                                    page's own glue once the channel is up
 * and hears back, through that object: zoneDrawn(ringJson), zoneEdited(id, ringJson),
 * deleteAsked(id), drawEnded(). Rings go out as [[lon, lat], ...] without repeating the
 * first point, as the zones model keeps them.
 *
 * Zones are drawn on the same canvas as the vehicles, below them (bringToBack): a
 * separate SVG or canvas layer would sit above or below the vehicle canvas as a whole
 * and swallow, or never get, the pointer, so either vehicle clicks or zone tooltips
 * would be lost. On one canvas Leaflet hit-tests every path in drawing order: a vehicle
 * inside a zone takes the click, the zone around it shows its name on hover.
 *
 * Geoman is switched to opt-in before any map exists, so it only ever touches layers
 * that ask for it (our zones, pmIgnore: false): vehicle circles and cluster bubbles
 * are invisible to its edit modes and snapping.
 */
"use strict";

if (window.L && L.PM) {
  L.PM.setOptIn(true);
}

window.fleetZones = (function () {
  let map = null;
  let options = null;
  let group = null; // the zone polygons
  let legend = null;
  let bridge = null;
  let visible = true;
  let mode = "view";
  const polygons = new Map(); // zone id -> L.polygon

  function canDraw() {
    return Boolean(window.L && L.PM && map && map.pm);
  }

  function ringOf(layer) {
    const points = layer.getLatLngs()[0] || [];
    return points.map((p) => [p.lng, p.lat]);
  }

  function makePolygon(shape) {
    const style = options.styles[shape.kind] || options.styles.service_area;
    const polygon = L.polygon(
      shape.ring.map((p) => [p[1], p[0]]),
      Object.assign({}, style, { renderer: options.renderer, pmIgnore: false })
    );
    polygon.zoneId = shape.id;
    polygon.zoneKind = shape.kind;
    polygon.bindTooltip(shape.name, { sticky: true });
    polygon.on("click", function () {
      if (mode === "delete" && bridge) {
        bridge.deleteAsked(polygon.zoneId);
      }
    });
    polygon.on("pm:edit", function () {
      if (bridge) {
        bridge.zoneEdited(polygon.zoneId, JSON.stringify(ringOf(polygon)));
      }
    });
    return polygon;
  }

  function show(shapes) {
    setEditing(false);
    group.clearLayers();
    polygons.clear();
    for (const shape of shapes) {
      const polygon = makePolygon(shape);
      polygons.set(shape.id, polygon);
      group.addLayer(polygon);
    }
    // Below the vehicles on the shared canvas; service areas below the zones inside them.
    for (const polygon of polygons.values()) {
      if (polygon.zoneKind !== "service_area") {
        polygon.bringToBack();
      }
    }
    for (const polygon of polygons.values()) {
      if (polygon.zoneKind === "service_area") {
        polygon.bringToBack();
      }
    }
    setEditing(mode === "edit");
  }

  function setEditing(on) {
    if (!canDraw()) {
      return;
    }
    for (const polygon of polygons.values()) {
      if (on) {
        polygon.pm.enable({ allowSelfIntersection: false, snappable: true });
      } else if (polygon.pm.enabled()) {
        polygon.pm.disable();
      }
    }
  }

  function setMode(next) {
    if (next !== "view" && !canDraw()) {
      return false;
    }
    if (mode === "draw" && next !== "draw") {
      map.pm.disableDraw();
    }
    if (mode === "edit" && next !== "edit") {
      setEditing(false);
    }
    mode = next;
    if (mode === "draw") {
      map.pm.enableDraw("Polygon", {
        allowSelfIntersection: false,
        snappable: true,
        templineStyle: { color: "#1f6fb2" },
        pathOptions: { color: "#1f6fb2" },
      });
    } else if (mode === "edit") {
      setEditing(true);
    }
    return true;
  }

  function onCreate(event) {
    // The drawn shape is not kept: the owner saves it and shows the zones again.
    const ring = ringOf(event.layer);
    event.layer.remove();
    mode = "view";
    if (bridge) {
      bridge.zoneDrawn(JSON.stringify(ring));
    }
  }

  function setVisible(on) {
    visible = Boolean(on);
    if (visible) {
      group.addTo(map);
      legend.addTo(map);
      setEditing(mode === "edit");
    } else {
      setEditing(false); // no vertex handles left floating over hidden zones
      group.remove();
      legend.remove();
    }
  }

  function makeLegend() {
    const control = L.control({ position: "bottomright" });
    control.onAdd = function () {
      const box = L.DomUtil.create("div", "fleet-zone-legend");
      for (const kind of Object.keys(options.labels)) {
        const style = options.styles[kind];
        const row = L.DomUtil.create("div", "", box);
        const swatch = L.DomUtil.create("span", "fleet-zone-swatch", row);
        swatch.style.borderColor = style.color;
        swatch.style.background = style.fill === false ? "transparent" : style.fillColor;
        row.appendChild(document.createTextNode(options.labels[kind]));
        row.dataset.kind = kind;
      }
      return box;
    };
    return control;
  }

  function addStyles() {
    const css = document.createElement("style");
    css.textContent =
      ".fleet-zone-legend{background:rgba(255,255,255,.9);padding:4px 8px;" +
      "border-radius:4px;font:12px sans-serif;line-height:18px}" +
      ".fleet-zone-swatch{display:inline-block;width:12px;height:12px;margin-right:6px;" +
      "vertical-align:middle;border:2px solid}";
    document.head.appendChild(css);
  }

  function init(leafletMap, zoneOptions) {
    map = leafletMap;
    options = zoneOptions;
    if (window.L && L.PM && !map.pm) {
      // Opt-in mode also skips maps made without pmIgnore: false (folium's): attach the
      // plugin to this one as its own init hook would have.
      map.pm = new L.PM.Map(map);
    }
    group = L.featureGroup();
    legend = makeLegend();
    addStyles();
    setVisible(true);
    if (canDraw()) {
      map.pm.setGlobalOptions({ allowSelfIntersection: false });
      map.on("pm:create", onCreate);
      map.on("pm:drawend", function () {
        if (mode === "draw") {
          mode = "view";
        }
        if (bridge) {
          bridge.drawEnded();
        }
      });
    }
  }

  return {
    init: init,
    show: show,
    setVisible: setVisible,
    setMode: setMode,
    connect: function (zonesObject) {
      bridge = zonesObject || null;
    },
    canDraw: canDraw,
    /* For tests and diagnostics: what is drawn. */
    state: function () {
      return {
        visible: visible && map.hasLayer(group),
        legend: Boolean(legend.getContainer() && legend.getContainer().isConnected),
        mode: mode,
        zones: Array.from(polygons.values(), (p) => ({
          id: p.zoneId,
          kind: p.zoneKind,
          colour: p.options.color,
          ring: ringOf(p),
          tooltip: p.getTooltip().getContent(),
        })),
      };
    },
    polygon: function (id) {
      return polygons.get(id) || null;
    },
    map: function () {
      return map;
    },
  };
})();
