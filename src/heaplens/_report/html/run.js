
(function () {
  'use strict';
  var UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  function human(size) {
    var value = size, i = 0;
    while (Math.abs(value) >= 1024 && i < UNITS.length - 1) { value /= 1024; i += 1; }
    return i === 0 ? value.toFixed(0) + ' B' : value.toFixed(1) + ' ' + UNITS[i];
  }
  function percent(part, whole) {
    return whole ? (100 * part / whole).toFixed(1) + '%' : '';
  }
  function nodeName(node) {
    var name = node.dataset.name || '';
    if (node.dataset.file !== undefined) {
      name += (name ? ' (' : '(') + node.dataset.file + ':' + node.dataset.line + ')';
    }
    return name;
  }
  function setupFlame(figure) {
    var graph = figure.querySelector('.fg');
    var caption = figure.querySelector('.fg-zoom');
    var button = figure.querySelector('.fg-reset');
    var hint = 'Click a box to zoom into it.';
    var total = Number(figure.dataset.total);
    function reset() {
      graph.querySelectorAll('.fg-n.off').forEach(function (n) { n.classList.remove('off'); });
      graph.querySelectorAll('.fg-n.anc').forEach(function (n) { n.classList.remove('anc'); });
      graph.querySelectorAll('.fg-n[data-width]').forEach(function (n) {
        n.style.width = n.dataset.width;
        delete n.dataset.width;
      });
      figure.classList.remove('zoomed');
      delete figure.dataset.zoom;
      caption.textContent = hint;
      button.hidden = true;
    }
    caption.textContent = hint;
    function zoom(node) {
      reset();
      if (node.classList.contains('k-root')) { return; }
      for (var n = node; n && !n.classList.contains('k-root');
           n = n.parentElement.closest('.fg-n')) {
        Array.prototype.forEach.call(n.parentElement.children, function (sibling) {
          if (sibling !== n) { sibling.classList.add('off'); }
        });
        n.dataset.width = n.style.width;
        n.style.width = '100%';
        if (n !== node) { n.classList.add('anc'); }
      }
      graph.querySelector('.k-root').classList.add('anc');
      var bytes = Number(node.dataset.bytes);
      caption.textContent = 'Zoomed into ' + nodeName(node) + ': ' + human(bytes) +
        ', ' + percent(bytes, total) + ' of the graph. Click a row above to zoom out.';
      figure.classList.add('zoomed');
      figure.dataset.zoom = node.dataset.name;
      button.hidden = false;
    }
    graph.addEventListener('click', function (event) {
      var box = event.target.closest('.fg-b');
      if (box) { zoom(box.parentElement); }
    });
    button.addEventListener('click', reset);
  }
  function setupTimeline(figure) {
    var data = JSON.parse(document.getElementById(figure.dataset.source).textContent);
    var svg = figure.querySelector('svg');
    var cursor = svg.querySelector('.cursor');
    var readout = figure.querySelector('.readout');
    var x0 = Number(svg.dataset.x0), x1 = Number(svg.dataset.x1);
    var tEnd = Number(svg.dataset.tEnd);
    var hint = 'Move the pointer over the chart to read the values at a moment.';
    readout.textContent = hint;
    function nearest(t) {
      var lo = 0, hi = data.t.length - 1;
      while (lo < hi) {
        var mid = (lo + hi) >> 1;
        if (data.t[mid] < t) { lo = mid + 1; } else { hi = mid; }
      }
      if (lo > 0 && t - data.t[lo - 1] < data.t[lo] - t) { lo -= 1; }
      return lo;
    }
    svg.addEventListener('mousemove', function (event) {
      var point = new DOMPoint(event.clientX, event.clientY)
        .matrixTransform(svg.getScreenCTM().inverse());
      var i = nearest((point.x - x0) / (x1 - x0) * tEnd);
      var x = x0 + (x1 - x0) * data.t[i] / tEnd;
      cursor.setAttribute('x1', x);
      cursor.setAttribute('x2', x);
      cursor.setAttribute('visibility', 'visible');
      var text = data.t[i].toFixed(2) + ' s: traced ' + human(data.traced[i]) +
        ' (highest since the previous sample ' + human(data.traced_max[i]) + ')';
      if (data.rss[i] !== null) { text += ', RSS ' + human(data.rss[i]); }
      readout.textContent = text;
    });
    svg.addEventListener('mouseleave', function () {
      cursor.setAttribute('visibility', 'hidden');
      readout.textContent = hint;
    });
  }
  document.querySelectorAll('figure.flame').forEach(setupFlame);
  document.querySelectorAll('figure.timeline').forEach(setupTimeline);
  document.documentElement.dataset.ready = '1';
})();
