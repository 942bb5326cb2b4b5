// The hub's web UI: sign in with a token, see the sites, build and submit a study, watch it, read
// its results (the same SVG plots as the report), download JSON, CSV and the HTML report. Talks
// only to its own origin. Every label is in English, Chinese and French.
const TEXT = {
  en: {
    signIn: 'Sign in', token: 'Token', signInButton: 'Sign in', signOut: 'Sign out',
    badToken: 'This token is not valid.', sites: 'Sites', site: 'Site', lastSeen: 'Last seen',
    never: 'never', newStudy: 'New study', title: 'Title', dataset: 'Dataset',
    addAnalysis: 'Add an analysis', submit: 'Run the study', studies: 'Studies',
    status: 'Status', id: 'Name', function: 'Analysis', formula: 'Formula', family: 'Family',
    rows: 'Rows', cols: 'Columns', subset: 'Records (R condition)', remove: 'Remove',
    downloadJson: 'Download JSON', downloadCsv: 'Download CSV',
    downloadReport: 'Download the report', running: 'Running at the sites…',
    done: 'Done', failed: 'Failed', ok: 'ok', refused: 'refused', notes: 'Notes',
  },
  zh: {
    signIn: '登录', token: '令牌', signInButton: '登录', signOut: '退出',
    badToken: '此令牌无效。', sites: '站点', site: '站点', lastSeen: '最近连接', never: '从未',
    newStudy: '新研究', title: '标题', dataset: '数据集', addAnalysis: '添加分析',
    submit: '运行研究', studies: '研究', status: '状态', id: '名称', function: '分析',
    formula: '公式', family: '分布族', rows: '行', cols: '列', subset: '记录（R 条件）',
    remove: '删除', downloadJson: '下载 JSON', downloadCsv: '下载 CSV',
    downloadReport: '下载报告', running: '各站点正在计算…', done: '完成', failed: '失败',
    ok: '成功', refused: '被拒绝', notes: '说明',
  },
  fr: {
    signIn: 'Connexion', token: 'Jeton', signInButton: 'Se connecter', signOut: 'Se déconnecter',
    badToken: 'Ce jeton n’est pas valide.', sites: 'Sites', site: 'Site',
    lastSeen: 'Dernier contact', never: 'jamais', newStudy: 'Nouvelle étude', title: 'Titre',
    dataset: 'Jeu de données', addAnalysis: 'Ajouter une analyse', submit: 'Lancer l’étude',
    studies: 'Études', status: 'État', id: 'Nom', function: 'Analyse', formula: 'Formule',
    family: 'Famille', rows: 'Lignes', cols: 'Colonnes', subset: 'Enregistrements (condition R)',
    remove: 'Retirer', downloadJson: 'Télécharger le JSON', downloadCsv: 'Télécharger le CSV',
    downloadReport: 'Télécharger le rapport', running: 'Calcul en cours dans les sites…',
    done: 'Terminée', failed: 'Échec', ok: 'ok', refused: 'refusée', notes: 'Notes',
  },
};

let language = localStorage.getItem('passerelle.language') || 'en';
let token = sessionStorage.getItem('passerelle.token') || '';
let current = null;  // the study shown: its document once done

const $ = (id) => document.getElementById(id);
const t = (key) => (TEXT[language] && TEXT[language][key]) || TEXT.en[key] || key;

function translate(root = document) {
  document.documentElement.lang = language === 'zh' ? 'zh-CN' : language;
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
}

async function api(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
  });
  const body = await response.text();
  let json = null;
  try { json = JSON.parse(body); } catch { /* HTML or empty */ }
  if (!response.ok) throw new Error((json && json.error) || `HTTP ${response.status}`);
  return json === null ? body : json;
}

function save(name, type, content) {
  const link = document.createElement('a');
  link.href = URL.createObjectURL(new Blob([content], { type }));
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
}

async function signIn(event) {
  if (event) event.preventDefault();
  if (event) token = $('token').value.trim();
  try {
    await showSites();
    sessionStorage.setItem('passerelle.token', token);
    $('sign-in').hidden = true;
    $('workspace').hidden = false;
    $('sign-out').hidden = false;
    $('sign-in-error').textContent = '';
    await showStudies();
    await loadVariables();
    if (!$('analyses').children.length) addAnalysis();
  } catch (error) {
    token = '';
    sessionStorage.removeItem('passerelle.token');
    if (event) $('sign-in-error').textContent = t('badToken');
  }
}

async function showSites() {
  const { sites } = await api('/v1/sites');
  const body = $('sites').tBodies[0];
  body.replaceChildren();
  for (const s of sites) {
    const row = body.insertRow();
    row.insertCell().textContent = s.name;
    row.insertCell().textContent = s.last_seen || t('never');
  }
}

async function loadVariables() {
  try {
    const { variables } = await api('/v1/dictionary');
    $('variables').replaceChildren(...variables.map((v) => {
      const option = document.createElement('option');
      option.value = v.name;
      option.label = v.type + (v.levels && v.levels.length ? ': ' + v.levels.join(', ') : '');
      return option;
    }));
  } catch { /* no dictionary: free typing */ }
}

async function showStudies() {
  const { studies } = await api('/v1/studies');
  const body = $('studies').tBodies[0];
  body.replaceChildren();
  for (const s of studies) {
    const row = body.insertRow();
    row.insertCell().textContent = s.study;
    const link = document.createElement('a');
    link.href = `#study-${s.study}`;
    link.textContent = s.title;
    link.addEventListener('click', (e) => { e.preventDefault(); watch(s.study); });
    row.insertCell().append(link);
    row.insertCell().textContent = t(s.status === 'done' ? 'done' : s.status === 'failed' ? 'failed' : 'running');
  }
}

function addAnalysis() {
  const row = $('analysis-row').content.firstElementChild.cloneNode(true);
  const count = $('analyses').children.length + 1;
  row.querySelector('[name=id]').value = `a${count}`;
  const fn = row.querySelector('[name=function]');
  const refresh = () => {
    const f = fn.value;
    row.querySelector('.for-formula').hidden = f === 'table' || f === 'describe';
    row.querySelector('.for-glm').hidden = f !== 'glm';
    for (const el of row.querySelectorAll('.for-table')) el.hidden = f !== 'table';
  };
  fn.addEventListener('change', refresh);
  row.querySelector('.remove').addEventListener('click', () => row.remove());
  refresh();
  translate(row);
  $('analyses').append(row);
}

async function submitStudy(event) {
  event.preventDefault();
  const analyses = [...$('analyses').children].map((row) => {
    const get = (name) => row.querySelector(`[name=${name}]`).value.trim();
    const a = { id: get('id'), function: get('function') };
    if (a.function !== 'table' && a.function !== 'describe') a.formula = get('formula');
    if (a.function === 'glm') a.family = get('family');
    if (a.function === 'table') { a.rows = get('rows'); if (get('cols')) a.cols = get('cols'); }
    if (get('subset')) a.subset = get('subset');
    return a;
  });
  const study = { title: $('study-title').value.trim(), dataset: $('study-dataset').value.trim(), analyses };
  try {
    $('study-error').textContent = '';
    const { study: id } = await api('/v1/studies', { method: 'POST', body: JSON.stringify(study) });
    await showStudies();
    await watch(id);
  } catch (error) {
    $('study-error').textContent = error.message;
  }
}

// Shows study `id`, polling the hub while it runs (each request is held until it changes).
async function watch(id) {
  $('study').hidden = false;
  $('study-heading').textContent = `#${id}`;
  $('results').replaceChildren();
  current = null;
  for (;;) {
    const state = await api(`/v1/studies/${id}`);
    if (state.status === 'running') {
      $('study-status').textContent = t('running');
      continue;
    }
    $('study-status').textContent = t(state.status === 'done' ? 'done' : 'failed') +
      (state.result && state.result.error ? ` — ${state.result.error}` : '');
    if (state.status === 'done') show(state.result);
    await showStudies();
    return;
  }
}

function show(doc) {
  current = doc;
  $('study-heading').textContent = `#${doc.study} — ${doc.title}`;
  const out = $('results');
  out.replaceChildren();
  for (const [id, r] of Object.entries(doc.results)) {
    const section = document.createElement('section');
    section.className = `result ${r.status}`;
    section.dataset.analysis = id;
    const heading = document.createElement('h3');
    heading.textContent = `${id} — ${r.function}: ${t(r.status)}`;
    section.append(heading);
    if (r.svg) {
      const plot = document.createElement('div');
      plot.className = 'plot';
      // The hub's own SVG (drawn from numbers, labels escaped): parsed, not executed.
      const svg = new DOMParser().parseFromString(r.svg, 'image/svg+xml').documentElement;
      plot.append(document.importNode(svg, true));
      section.append(plot);
    }
    if (r.text) {
      const pre = document.createElement('pre');
      pre.textContent = r.text;
      section.append(pre);
    }
    if (r.notes && r.notes.length) {
      const list = document.createElement('ul');
      list.className = 'notes';
      for (const n of r.notes) {
        const item = document.createElement('li');
        item.textContent = n;
        list.append(item);
      }
      section.append(list);
    }
    out.append(section);
  }
}

// One row per coefficient (or count, or curve row) of every analysis.
function csv(doc) {
  const lines = ['analysis,what,name,value'];
  const q = (v) => `"${String(v).replaceAll('"', '""')}"`;
  for (const [id, r] of Object.entries(doc.results)) {
    const res = r.results || {};
    if (res.coef_names) {
      res.coef_names.forEach((n, i) => lines.push([q(id), q('coef'), q(n), res.coef[i]].join(',')));
    } else if (res.counts) {
      res.counts.forEach((c, i) => lines.push([q(id), q('count'), i, c === null ? '' : c].join(',')));
    } else if (res.strata) {
      for (const s of res.strata) {
        const table = s.table || {};
        (table.time || []).forEach((tm, i) =>
          lines.push([q(id), q(`surv ${s.strata || ''}`), tm, table.surv[i]].join(',')));
      }
    }
  }
  return lines.join('\n') + '\n';
}

document.addEventListener('DOMContentLoaded', () => {
  $('language').value = language;
  $('language').addEventListener('change', () => {
    language = $('language').value;
    localStorage.setItem('passerelle.language', language);
    translate();
    if (current) show(current);
  });
  translate();
  $('sign-in-form').addEventListener('submit', signIn);
  $('sign-out').addEventListener('click', () => {
    sessionStorage.removeItem('passerelle.token');
    location.reload();
  });
  $('add-analysis').addEventListener('click', addAnalysis);
  $('study-form').addEventListener('submit', submitStudy);
  $('download-json').addEventListener('click', () =>
    current && save(`study-${current.study}.json`, 'application/json', JSON.stringify(current, null, 2)));
  $('download-csv').addEventListener('click', () =>
    current && save(`study-${current.study}.csv`, 'text/csv', csv(current)));
  $('download-report').addEventListener('click', async () => {
    if (!current) return;
    save(`study-${current.study}.html`, 'text/html', await api(`/v1/studies/${current.study}/report`));
  });
  if (token) signIn();
});
