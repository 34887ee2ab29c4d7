// The web page of `trm serve` (docs/VISUALS.md): enter a puzzle, POST /v1/solve with "trace": true,
// and replay each supervision step of the model's answer. Plain JS, no framework, no network
// access beyond this server's own /v1 API.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const ARC = ['#000000', '#0074d9', '#ff4136', '#2ecc40', '#ffdc00', '#aaaaaa', '#f012be', '#ff851b', '#7fdbff', '#870c25'];
  const PASTEL = ['#8dd3c7', '#ffffb3', '#bebada', '#fb8072', '#80b1d3', '#fdb462', '#b3de69', '#fccde5', '#d9d9d9', '#bc80bd', '#ccebc5', '#ffed6f'];
  // Maze values of the /v1 API (docs/SERVING.md): 0 wall, 1 open, 2 start, 3 goal, 4 path.
  const WALL = 0, OPEN = 1, START = 2, GOAL = 3;

  const state = {
    models: [], model: null, tab: 'sudoku',
    input: [],        // the puzzle as rows of integers in the model's alphabet
    arc: null,        // a loaded ARC task
    result: null, question: null, timer: null, shown: 0,
  };

  // ---- the API ----------------------------------------------------------------------------------
  function headers(json) {
    const h = {};
    if (json) h['Content-Type'] = 'application/json';
    const key = $('api-key').value.trim();
    if (key) h.Authorization = 'Bearer ' + key;
    return h;
  }
  async function api(path, body) {
    const init = body === undefined ? { headers: headers(false) }
      : { method: 'POST', headers: headers(true), body: JSON.stringify(body) };
    const res = await fetch(path, init);
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (!res.ok) {
      const msg = data && data.error && data.error.message ? data.error.message : res.status + ' ' + res.statusText;
      const err = new Error(msg);
      err.status = res.status;
      throw err;
    }
    return data;
  }

  function say(text, kind) {
    const m = $('message');
    m.textContent = text;
    m.className = kind || '';
  }

  // ---- boards -----------------------------------------------------------------------------------
  const kindOf = (model) => (model ? model.task : 'sudoku');
  function sudokuBox(n) {  // rows x cols of a box: 4 -> 2x2, 6 -> 2x3, 9 -> 3x3
    const bh = n === 6 ? 2 : Math.round(Math.sqrt(n));
    return [bh, Math.max(1, Math.floor(n / bh))];
  }
  function symbolOf(model, v) {
    const vocab = model && model.vocab;
    if (vocab && Array.isArray(vocab.values) && Array.isArray(vocab.symbols)) {
      const i = vocab.values.indexOf(v);
      if (i >= 0) return String(vocab.symbols[i]);
    }
    return String(v);
  }
  // What one cell looks like: its text and colours. A pure function of the value (and the kind).
  function cellLook(kind, model, v) {
    switch (kind) {
      case 'sudoku': {  // 0 = blank; a value outside 1..n (a model that is not trained yet) shows as '?'
        const n = model ? model.cols : 9;
        return { text: v === 0 ? '' : Number.isInteger(v) && v >= 1 && v <= n ? String(v) : '?', cls: '' };
      }
      case 'maze': return { text: v === START ? 'S' : v === GOAL ? 'G' : '', cls: ['wall', 'open', 'start', 'goal', 'path'][v] || 'bad' };
      case 'arc': return { text: '', bg: ARC[v] || '#fff' };
      default: {
        const sym = symbolOf(model, v);
        const digits = model && model.vocab && (model.vocab.symbols || []).every((s) => /^[0-9]$/.test(String(s)));
        return { text: sym, bg: digits ? ARC[Number(sym)] : PASTEL[Math.abs(v) % PASTEL.length], dark: digits && [0, 1, 9].includes(Number(sym)) };
      }
    }
  }

  // Draws `grid` into `el`. opts: kind, model, givens (the question: Sudoku givens in bold),
  // changed (a mask of cells to highlight), editable (Sudoku inputs / maze painting).
  function renderBoard(el, grid, opts) {
    const rows = grid.length, cols = rows ? grid[0].length : 0;
    const side = Math.max(rows, cols, 1);
    const size = Math.max(4, Math.min(44, Math.floor(396 / side)));
    el.style.setProperty('--cell', size + 'px');
    el.style.gridTemplateColumns = `repeat(${cols}, var(--cell))`;
    el.classList.toggle('small', size < 14);
    el.dataset.kind = opts.kind;
    el.replaceChildren();
    const [bh, bw] = opts.kind === 'sudoku' ? sudokuBox(cols) : [0, 0];
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const v = grid[r][c];
        const look = cellLook(opts.kind, opts.model, v);
        const given = opts.givens && opts.kind === 'sudoku' && opts.givens[r][c] > 0;
        let cell;
        if (opts.editable && opts.kind === 'sudoku') {
          cell = document.createElement('input');
          cell.value = look.text;
          cell.maxLength = 1;
          cell.inputMode = 'numeric';
          cell.setAttribute('aria-label', `row ${r + 1} column ${c + 1}`);
          cell.addEventListener('input', () => onSudokuInput(cell, r, c));
          cell.addEventListener('keydown', (e) => onSudokuKey(e, r, c));
        } else {
          cell = document.createElement('div');
          cell.textContent = look.text;
        }
        cell.className = 'cell ' + (look.cls || '');
        if (look.bg) cell.style.background = look.bg;
        if (look.dark) cell.style.color = '#fff';
        if (given) cell.classList.add('given');
        if (opts.changed && opts.changed[r][c]) cell.classList.add('changed');
        if (bw && (c + 1) % bw === 0 && c + 1 < cols) cell.classList.add('box-right');
        if (bh && (r + 1) % bh === 0 && r + 1 < rows) cell.classList.add('box-bottom');
        cell.dataset.r = r;
        cell.dataset.c = c;
        el.appendChild(cell);
      }
    }
  }

  const emptyGrid = (rows, cols, v) => Array.from({ length: rows }, () => new Array(cols).fill(v));
  const diff = (a, b) => b.map((row, r) => row.map((v, c) => !a || !a[r] || a[r][c] !== v));

  function showInput() {
    const m = state.model;
    const kind = state.tab === 'arc' ? 'arc' : kindOf(m);
    if (state.tab === 'arc') {
      const g = arcTestInput();
      if (g) renderBoard($('input-board'), g, { kind: 'arc' });
      else $('input-board').replaceChildren();
      return;
    }
    if (state.tab === 'text') {
      $('input-board').replaceChildren();
      return;
    }
    renderBoard($('input-board'), state.input, { kind, model: m, givens: state.input, editable: kind === 'sudoku' || kind === 'maze' });
  }

  // ---- Sudoku -----------------------------------------------------------------------------------
  function onSudokuInput(cell, r, c) {
    const n = state.input[0].length;
    const ch = cell.value.replace(/[^0-9]/g, '').slice(-1);
    const d = ch ? Number(ch) : 0;
    state.input[r][c] = d >= 1 && d <= n ? d : 0;
    cell.value = state.input[r][c] ? String(state.input[r][c]) : '';
    cell.classList.toggle('given', state.input[r][c] > 0);
    if (cell.value) focusCell(r, c + 1);
  }
  function onSudokuKey(e, r, c) {
    const moves = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };
    if (moves[e.key]) {
      e.preventDefault();
      focusCell(r + moves[e.key][0], c + moves[e.key][1]);
    } else if (e.key === 'Backspace' && !e.target.value) {
      focusCell(r, c - 1);
    }
  }
  function focusCell(r, c) {
    const n = state.input[0].length;
    if (c >= n) { r += 1; c = 0; }
    if (c < 0) { r -= 1; c = n - 1; }
    if (r < 0 || r >= state.input.length) return;
    const el = $('input-board').querySelector(`[data-r="${r}"][data-c="${c}"]`);
    if (el) el.focus();
  }
  // Text as `trm solve` reads it: digits, '.', '0' or '_' for blanks; separators ignored.
  function parseSudokuText(text, n) {
    const cells = [];
    for (const ch of text) {
      if (/[1-9]/.test(ch)) cells.push(Number(ch));
      else if (ch === '.' || ch === '0' || ch === '_') cells.push(0);
      else if (!/[\s|,+=\-]/.test(ch)) throw new Error(`unexpected character '${ch}' in the Sudoku text`);
    }
    if (cells.length !== n * n) throw new Error(`the text has ${cells.length} cells; this model takes ${n * n} (${n}x${n})`);
    if (cells.some((d) => d > n)) throw new Error(`a ${n}x${n} Sudoku has digits 1-${n} only`);
    return Array.from({ length: n }, (_, r) => cells.slice(r * n, r * n + n));
  }
  // A random valid grid (a shifted pattern under random digit, row and column permutations within
  // bands), with about half of the cells blanked.
  function exampleSudoku(n) {
    const [bh, bw] = sudokuBox(n);
    const shuffle = (a) => { for (let i = a.length - 1; i > 0; i--) { const j = Math.floor(Math.random() * (i + 1)); [a[i], a[j]] = [a[j], a[i]]; } return a; };
    const digits = shuffle(Array.from({ length: n }, (_, i) => i + 1));
    const order = (band, size, count) => shuffle([...Array(count).keys()]).flatMap((b) => shuffle([...Array(size).keys()]).map((i) => b * size + i));
    const rows = order(0, bh, n / bh), cols = order(0, bw, n / bw);
    const g = rows.map((r) => cols.map((c) => digits[(bw * (r % bh) + Math.floor(r / bh) + c) % n]));
    const blanks = Math.round(n * n * (n === 9 ? 0.6 : 0.55));
    shuffle([...Array(n * n).keys()]).slice(0, blanks).forEach((i) => { g[Math.floor(i / n)][i % n] = 0; });
    return g;
  }

  // ---- Maze -------------------------------------------------------------------------------------
  let painting = false;
  function paint(target) {
    const cell = target.closest ? target.closest('.cell') : null;
    if (!cell || state.tab !== 'maze' || kindOf(state.model) !== 'maze') return;
    const r = Number(cell.dataset.r), c = Number(cell.dataset.c);
    const tool = Number(document.querySelector('input[name="maze-tool"]:checked').value);
    if (tool === START || tool === GOAL) {  // one start and one goal: moving it clears the old one
      state.input.forEach((row) => row.forEach((v, i) => { if (v === tool) row[i] = OPEN; }));
    }
    state.input[r][c] = tool;
    showInput();
  }
  // A random maze: a depth-first carve over the odd cells, a few extra openings so it has loops,
  // S and G at two ends of the longest shortest path from S.
  function generateMaze(rows, cols) {
    const g = emptyGrid(rows, cols, WALL);
    const inside = (r, c) => r > 0 && c > 0 && r < rows - 1 && c < cols - 1;
    const stack = [[1, 1]];
    g[1][1] = OPEN;
    while (stack.length) {
      const [r, c] = stack[stack.length - 1];
      const next = [[0, 2], [2, 0], [0, -2], [-2, 0]].map(([dr, dc]) => [r + dr, c + dc, r + dr / 2, c + dc / 2])
        .filter(([nr, nc]) => inside(nr, nc) && g[nr][nc] === WALL);
      if (!next.length) { stack.pop(); continue; }
      const [nr, nc, wr, wc] = next[Math.floor(Math.random() * next.length)];
      g[wr][wc] = OPEN;
      g[nr][nc] = OPEN;
      stack.push([nr, nc]);
    }
    for (let k = 0; k < (rows * cols) / 30; k++) {
      const r = 1 + Math.floor(Math.random() * (rows - 2)), c = 1 + Math.floor(Math.random() * (cols - 2));
      if (g[r][c] === WALL && ((g[r - 1][c] === OPEN && g[r + 1][c] === OPEN) || (g[r][c - 1] === OPEN && g[r][c + 1] === OPEN))) g[r][c] = OPEN;
    }
    const far = (from) => {  // BFS: the open cell farthest from `from`
      const dist = emptyGrid(rows, cols, -1);
      const q = [from];
      dist[from[0]][from[1]] = 0;
      let last = from;
      while (q.length) {
        const [r, c] = last = q.shift();
        for (const [dr, dc] of [[0, 1], [1, 0], [0, -1], [-1, 0]]) {
          const nr = r + dr, nc = c + dc;
          if (nr >= 0 && nc >= 0 && nr < rows && nc < cols && g[nr][nc] === OPEN && dist[nr][nc] < 0) {
            dist[nr][nc] = dist[r][c] + 1;
            q.push([nr, nc]);
          }
        }
      }
      return last;
    };
    const s = far([1, 1]), e = far(s);
    g[s[0]][s[1]] = START;
    g[e[0]][e[1]] = GOAL;
    return g;
  }

  // ---- ARC --------------------------------------------------------------------------------------
  function arcTestInput() {
    if (!state.arc) return null;
    const i = Number($('arc-test').value || 0);
    return state.arc.test[i] ? state.arc.test[i].input : null;
  }
  function validArcGrid(g) {
    return Array.isArray(g) && g.length > 0 && g.length <= 30 && g.every((row) => Array.isArray(row) && row.length === g[0].length &&
      row.length <= 30 && row.every((v) => Number.isInteger(v) && v >= 0 && v <= 9));
  }
  function loadArc(text, name) {
    let task;
    try { task = JSON.parse(text); } catch (e) { throw new Error(`${name}: not JSON (${e.message})`); }
    if (!task || !Array.isArray(task.test) || !task.test.length) throw new Error(`${name}: an ARC task has a non-empty "test" list`);
    task.test.forEach((p, i) => { if (!p || !validArcGrid(p.input)) throw new Error(`${name}: test ${i + 1} has no valid "input" grid (rows of digits 0-9)`); });
    state.arc = task;
    const sel = $('arc-test');
    sel.replaceChildren(...task.test.map((p, i) => new Option(`test ${i + 1} (${p.input.length}x${p.input[0].length})`, i)));
    sel.hidden = task.test.length < 2;
  }
  function arcNote() {
    const arcModels = state.models.filter((m) => m.task === 'arc');
    if (state.model && state.model.task === 'arc') return '';
    return arcModels.length
      ? `Pick the ARC model (${arcModels.map((m) => m.name).join(', ')}) to solve this task.`
      : 'Solving an ARC task needs an ARC model (trained on a trm data build arc dataset), and this server has none: ' +
        'use trm arc solve --checkpoint CHECKPOINT --task TASK.json --out DIR.';
  }

  // ---- model and tabs ---------------------------------------------------------------------------
  function setTab(tab) {
    state.tab = tab;
    document.querySelectorAll('.tab').forEach((b) => b.setAttribute('aria-selected', String(b.dataset.tab === tab)));
    for (const t of ['sudoku', 'maze', 'arc', 'text']) $('tab-' + t).hidden = t !== tab;
    const kind = kindOf(state.model);
    let note = '';
    if (tab === 'sudoku' && kind !== 'sudoku') note = `The model "${state.model.name}" solves ${kind} puzzles, not Sudoku.`;
    if (tab === 'maze' && kind !== 'maze') note = `The model "${state.model.name}" solves ${kind} puzzles, not mazes.`;
    if (tab === 'arc') {
      note = arcNote();
      $('arc-note').textContent = note;
      $('arc-note').hidden = !note;
    }
    $('solve').disabled = !state.model || (tab === 'arc' ? !state.arc || !!note : !!note);
    say(note, note ? 'warn' : '');
    showInput();
  }
  function setModel(name) {
    const m = state.models.find((x) => x.name === name) || null;
    state.model = m;
    if (!m) return;
    $('model-info').textContent = `${m.task}, ${m.rows}x${m.cols}, ${m.arch}, ${Number(m.params).toLocaleString()} parameters, up to ${m.halt_max_steps} steps`;
    if (m.task === 'sudoku') state.input = exampleSudoku(m.cols);
    else if (m.task === 'maze') state.input = generateMaze(m.rows, m.cols);
    else state.input = emptyGrid(m.rows, m.cols, 0);
    clearAnswer();
    setTab({ sudoku: 'sudoku', maze: 'maze', arc: 'arc' }[m.task] || 'text');
  }

  // ---- solving and the replay -------------------------------------------------------------------
  function clearAnswer() {
    clearTimeout(state.timer);
    state.result = null;
    const a = $('answer-board');
    a.replaceChildren();
    a.dataset.state = 'empty';
    delete a.dataset.grid;
    $('confidence-bar').style.width = '0%';
    $('confidence-label').textContent = 'halting confidence';
    $('step-label').textContent = '';
    $('steps-strip').replaceChildren();
    $('result').hidden = true;
  }
  function requestBody() {
    const m = state.model;
    const body = { model: m.name, halting: $('halting').value, trace: true };
    if (state.tab === 'text') {
      const text = $('puzzle-text').value;
      if (!text.trim()) throw new Error('type or paste a puzzle first');
      body.puzzle = text;
      return [body, null];
    }
    if (state.tab === 'arc') {
      body.grid = arcTestInput();
      return [body, body.grid];
    }
    if (kindOf(m) === 'maze') {
      const count = (v) => state.input.flat().filter((x) => x === v).length;
      if (count(START) !== 1 || count(GOAL) !== 1) throw new Error('a maze needs exactly one start S and one goal G');
    }
    body.grid = state.input.map((row) => row.slice());
    return [body, body.grid];
  }
  async function solve() {
    if (!state.model) return;
    let body, question;
    try {
      [body, question] = requestBody();
    } catch (e) {
      say(e.message, 'error');
      return;
    }
    clearAnswer();
    $('solve').disabled = true;
    $('answer-board').dataset.state = 'solving';
    say('Solving…');
    const t0 = performance.now();
    try {
      const r = await api('v1/solve', body);
      r.roundTripMs = performance.now() - t0;
      state.result = r;
      state.question = question;
      say('');
      play(0);
    } catch (e) {
      $('answer-board').dataset.state = 'error';
      say(e.message, 'error');
    } finally {
      $('solve').disabled = false;
    }
  }
  function traceOf(r) {
    if (Array.isArray(r.trace) && r.trace.length) return r.trace;
    return [{ step: r.steps, grid: r.grid, confidence: r.confidence ? r.confidence[r.confidence.length - 1] : 0, verified: r.verified }];
  }
  function showStep(i) {
    const r = state.result, steps = traceOf(r), s = steps[i];
    const prev = i === 0 ? state.question : steps[i - 1].grid;
    const kind = state.tab === 'arc' ? 'arc' : kindOf(state.model);
    renderBoard($('answer-board'), s.grid, { kind, model: state.model, givens: state.question, changed: diff(prev, s.grid) });
    const conf = Math.max(0, Math.min(1, Number(s.confidence) || 0));
    $('confidence-bar').style.width = (conf * 100).toFixed(1) + '%';
    const verdict = s.verified === true ? ' · valid' : s.verified === false && r.verified !== null
      ? (i + 1 < steps.length ? ' · not valid yet' : ' · not valid') : '';
    $('confidence-label').textContent = `halting confidence ${conf.toFixed(3)}${verdict}`;
    $('step-label').textContent = `step ${s.step} of ${steps.length}`;
    state.shown = i;
    document.querySelectorAll('#steps-strip button').forEach((b, k) => b.classList.toggle('current', k === i));
  }
  function play(i) {
    const steps = traceOf(state.result);
    if (i === 0) buildStrip(steps);
    $('answer-board').dataset.state = 'animating';
    showStep(i);
    if (i + 1 < steps.length) state.timer = setTimeout(() => play(i + 1), Number($('speed').value));
    else finish();
  }
  function buildStrip(steps) {
    $('steps-strip').replaceChildren(...steps.map((s, i) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.title = `step ${s.step}: halting confidence ${Number(s.confidence).toFixed(3)}`;
      b.innerHTML = `<span class="fill" style="height:${Math.round(Math.max(0, Math.min(1, s.confidence)) * 100)}%"></span><span class="n">${s.step}</span>`;
      b.addEventListener('click', () => { if ($('answer-board').dataset.state === 'done') showStep(i); });
      return b;
    }));
  }
  function finish() {
    const r = state.result, a = $('answer-board');
    a.dataset.state = 'done';
    a.dataset.grid = JSON.stringify(r.grid);
    $('result').hidden = false;
    $('r-verified').textContent = r.verified === true ? '✔ yes, the answer follows the rules' : r.verified === false ? '✘ no' : '— (no checker for this task)';
    $('r-verified').className = r.verified === true ? 'good' : r.verified === false ? 'bad' : '';
    $('r-steps').textContent = String(r.steps);
    $('r-halted').textContent = r.halted ? 'yes (the model chose to stop)' : 'no (ran to the step limit)';
    const t = r.timing_ms || {};
    const ms = (x) => (typeof x === 'number' ? x.toFixed(1) + ' ms' : '?');
    $('r-timing').textContent = `${ms(t.compute)} compute, ${ms(t.queue)} queued, ${ms(t.total)} on the server; ${ms(r.roundTripMs)} round trip`;
  }

  // ---- start ------------------------------------------------------------------------------------
  function wire() {
    document.querySelectorAll('.tab').forEach((b) => b.addEventListener('click', () => setTab(b.dataset.tab)));
    $('model').addEventListener('change', (e) => setModel(e.target.value));
    $('solve').addEventListener('click', solve);
    $('speed').addEventListener('input', () => { $('speed-label').textContent = $('speed').value + ' ms'; });
    $('speed-label').textContent = $('speed').value + ' ms';
    $('sudoku-paste').addEventListener('click', () => {
      try {
        state.input = parseSudokuText($('sudoku-text').value, state.input[0].length);
        clearAnswer();
        showInput();
        say('');
      } catch (e) { say(e.message, 'error'); }
    });
    $('sudoku-example').addEventListener('click', () => { state.input = exampleSudoku(state.input[0].length); clearAnswer(); showInput(); });
    $('sudoku-clear').addEventListener('click', () => { state.input = emptyGrid(state.input.length, state.input[0].length, 0); clearAnswer(); showInput(); });
    $('maze-generate').addEventListener('click', () => { state.input = generateMaze(state.model.rows, state.model.cols); clearAnswer(); showInput(); });
    $('maze-clear').addEventListener('click', () => {
      const m = state.model;
      state.input = emptyGrid(m.rows, m.cols, OPEN);
      clearAnswer();
      showInput();
    });
    const board = $('input-board');
    board.addEventListener('mousedown', (e) => { if (state.tab === 'maze') { painting = true; paint(e.target); e.preventDefault(); } });
    board.addEventListener('mouseover', (e) => { if (painting) paint(e.target); });
    window.addEventListener('mouseup', () => { painting = false; });
    $('arc-file').addEventListener('change', async (e) => {
      const f = e.target.files[0];
      if (!f) return;
      try {
        loadArc(await f.text(), f.name);
        clearAnswer();
        setTab('arc');
      } catch (err) { state.arc = null; say(err.message, 'error'); setTab('arc'); }
    });
    $('arc-test').addEventListener('change', () => { clearAnswer(); showInput(); });
    $('api-key').addEventListener('change', loadModels);
  }
  async function loadModels() {
    try {
      const data = await api('v1/models');
      state.models = data.models || [];
      const sel = $('model');
      sel.replaceChildren(...state.models.map((m) => new Option(`${m.name} (${m.task} ${m.rows}x${m.cols})`, m.name)));
      if (!state.models.length) { say('This server has no models.', 'error'); return; }
      setModel(state.models[0].name);
      document.body.dataset.ready = 'true';
    } catch (e) {
      say(e.status === 401 ? 'This server needs an API key: enter it under "API key".' : 'Cannot list the models: ' + e.message, 'error');
    }
  }
  wire();
  loadModels();
})();
