/**
 * The script embedded in the flame graph SVG (plain ES5 for any browser). It reads the layout
 * from data attributes: data-start / data-samples / data-depth on each frame, and the geometry
 * on the root <svg>. Hover shows a frame's details, click zooms to it, the search box highlights
 * frames whose name matches a regular expression and shows the share of samples they cover.
 */
export const flameGraphScript = String.raw`
(function () {
  'use strict';
  var svg = document.getElementById('flamegraph');
  var num = function (name) { return Number(svg.getAttribute(name)); };
  var total = num('data-total');
  var xpad = num('data-xpad');
  var usable = num('data-usable-width');
  var charWidth = num('data-char-width');
  var details = document.getElementById('details');
  var unzoom = document.getElementById('unzoom');
  var matched = document.getElementById('matched');
  var searchBox = document.getElementById('search');
  var searchButton = document.getElementById('search-button');
  var defaultDetails = details.textContent;

  var frames = Array.prototype.map.call(svg.querySelectorAll('g.frame'), function (g) {
    var title = g.querySelector('title').textContent;
    return {
      g: g,
      rect: g.querySelector('rect'),
      text: g.querySelector('text'),
      title: title,
      name: title.slice(0, title.lastIndexOf(' (')),
      start: Number(g.getAttribute('data-start')),
      samples: Number(g.getAttribute('data-samples')),
      depth: Number(g.getAttribute('data-depth'))
    };
  });
  var byElement = new Map();
  frames.forEach(function (f) { byElement.set(f.g, f); });
  var root = frames.filter(function (f) { return f.depth === 0; })[0];

  function fit(name, width) {
    var chars = Math.floor((width - 6) / charWidth);
    if (chars < 3) return '';
    return name.length <= chars ? name : name.slice(0, chars - 2) + '..';
  }

  function place(f, x, width) {
    f.rect.setAttribute('x', x.toFixed(2));
    f.rect.setAttribute('width', width.toFixed(2));
    f.text.setAttribute('x', (x + 3).toFixed(2));
    f.text.textContent = fit(f.name, width);
  }

  function zoom(target) {
    var scale = usable / target.samples;
    frames.forEach(function (f) {
      var inside = f.depth >= target.depth && f.start >= target.start && f.start + f.samples <= target.start + target.samples;
      var ancestor = f.depth < target.depth && f.start <= target.start && f.start + f.samples >= target.start + target.samples;
      f.g.classList.toggle('hide', !inside && !ancestor);
      f.g.classList.toggle('parent', ancestor);
      if (inside) place(f, xpad + (f.start - target.start) * scale, f.samples * scale);
      else if (ancestor) place(f, xpad, usable);
    });
    unzoom.classList.toggle('hide', target === root);
  }

  function matcher(term) {
    try {
      return new RegExp(term);
    } catch (e) {
      return new RegExp(term.replace(/[.*+?^${'$'}{}()|[\]\\]/g, '\\$&'));
    }
  }

  // The share of samples under matched frames; nested matches are not counted twice.
  function search(term) {
    var spans = [];
    var re = term ? matcher(term) : null;
    frames.forEach(function (f) {
      var hit = re !== null && re.test(f.name);
      f.g.classList.toggle('match', hit);
      if (hit) spans.push([f.start, f.start + f.samples]);
    });
    if (re === null) {
      matched.textContent = ' ';
      return;
    }
    spans.sort(function (a, b) { return a[0] - b[0]; });
    var covered = 0;
    var end = -1;
    spans.forEach(function (s) {
      if (s[1] <= end) return;
      covered += s[1] - Math.max(s[0], end);
      end = s[1];
    });
    matched.textContent = 'Matched: ' + (total > 0 ? (100 * covered / total).toFixed(2) : '0.00') + '%';
  }

  function frameOf(event) {
    var node = event.target;
    while (node && node !== svg) {
      if (byElement.has(node)) return byElement.get(node);
      node = node.parentNode;
    }
    return null;
  }

  svg.addEventListener('mouseover', function (event) {
    var f = frameOf(event);
    if (f) details.textContent = f.title;
  });
  svg.addEventListener('mouseout', function (event) {
    if (frameOf(event)) details.textContent = defaultDetails;
  });
  svg.addEventListener('click', function (event) {
    var f = frameOf(event);
    if (f) zoom(f);
  });
  unzoom.addEventListener('click', function () { zoom(root); });
  if (searchBox) {
    searchBox.addEventListener('input', function () { search(searchBox.value); });
  }
  searchButton.addEventListener('click', function () {
    if (searchBox) {
      searchBox.focus();
      return;
    }
    var term = window.prompt('Search for (regular expression):', '');
    if (term !== null) search(term);
  });
  document.addEventListener('keydown', function (event) {
    var find = (event.ctrlKey || event.metaKey) && event.key === 'f';
    if ((find || (event.key === '/' && event.target !== searchBox)) && searchBox) {
      event.preventDefault();
      searchBox.focus();
    } else if (event.key === 'Escape') {
      if (searchBox) searchBox.value = '';
      search('');
    }
  });
})();
`;
