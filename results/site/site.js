function cellKey(td) {
  const v = td.dataset.v;
  if (v !== undefined && v !== '') return [0, parseFloat(v)];
  if (v === '') return [2, 0];
  return [1, td.textContent.trim().toLowerCase()];
}
function sortTable(table, col, th) {
  const dir = th.getAttribute('aria-sort') === 'ascending' ? 'descending' : 'ascending';
  table.querySelectorAll('th').forEach(h => h.removeAttribute('aria-sort'));
  th.setAttribute('aria-sort', dir);
  const sign = dir === 'ascending' ? 1 : -1;
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    const ka = cellKey(a.cells[col]), kb = cellKey(b.cells[col]);
    if (ka[0] !== kb[0]) return ka[0] - kb[0];  // numbers, then text, then empty cells, in either direction
    return ka[1] < kb[1] ? -sign : ka[1] > kb[1] ? sign : 0;
  });
  rows.forEach(r => body.appendChild(r));
}
function applyFilters() {
  const version = document.getElementById('version').value;
  const converged = document.getElementById('converged').checked;
  document.querySelectorAll('section.board').forEach(s => {
    s.hidden = version !== 'all' && s.dataset.version !== version;
  });
  document.querySelectorAll('tr[data-improving]').forEach(r => {
    r.hidden = converged && r.dataset.improving === '1';
  });
}
document.querySelectorAll('table.board').forEach(table => {
  table.querySelectorAll('th').forEach((th, col) => th.addEventListener('click', () => sortTable(table, col, th)));
});
document.querySelectorAll('#version, #converged').forEach(e => e.addEventListener('change', applyFilters));
