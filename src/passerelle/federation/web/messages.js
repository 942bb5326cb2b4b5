// The hub's and the sites' messages (notes under results, refusals, failures) in the page's
// language. The server writes them in English; each kind is matched here by its pattern and said
// again in English, Chinese or French with the values it carries (sites, rules, days, counts).
// A message of a kind not listed is shown as it came. The English original stays on the element
// (its title) for the precise wording.

// What each rule protects, said the way a researcher reads it.
const RULES = {
  en: {
    min_cell_count: 'a count of 1 to k−1 patients would have left the site',
    min_cohort_size: 'the analysis covers too few records at this site',
    min_events: 'too few events at this site for this model',
    max_parameters_per_record: 'too many model parameters for the records at this site',
    min_cohort_difference: 'these records differ from an earlier release by only a few patients',
    min_time_bin_days: 'the time grid is finer than this site allows',
    never_released: 'identifiers, free text and dates are never released as labels',
    allowed_analyses: 'this site does not allow this analysis',
    approval: 'its custodian denied this release',
    hub_signature: 'the task is not signed by the hub this site trusts',
    replay: 'this task was already run',
    task_site: 'the task was addressed to another site',
    protocol: 'this site answers only the analyses of protocols its custodian approved',
    time_arithmetic: 'survival times must be a duration variable as stored',
    count_audit: 'released counts could be combined into a count of a few patients',
  },
  zh: {
    min_cell_count: '将有 1 至 k−1 名患者的计数离开本站点',
    min_cohort_size: '本站点参与分析的记录太少',
    min_events: '本站点的事件数不足以拟合此模型',
    max_parameters_per_record: '相对于本站点的记录数，模型参数过多',
    min_cohort_difference: '这些记录与先前发布的记录仅相差少数患者',
    min_time_bin_days: '时间网格比本站点允许的更细',
    never_released: '标识符、自由文本和日期从不作为标签发布',
    allowed_analyses: '本站点不允许此分析',
    approval: '数据管理员拒绝了此次发布',
    hub_signature: '任务没有本站点信任的中心签名',
    replay: '此任务已经运行过',
    task_site: '任务发往的是另一个站点',
    protocol: '本站点只回答其数据管理员批准的研究方案中的分析',
    time_arithmetic: '生存时间必须是按原样存储的时长变量',
    count_audit: '已发布的计数可被组合成少数患者的计数',
  },
  fr: {
    min_cell_count: 'un effectif de 1 à k−1 patients aurait quitté le site',
    min_cohort_size: 'l’analyse porte sur trop peu d’enregistrements de ce site',
    min_events: 'trop peu d’événements dans ce site pour ce modèle',
    max_parameters_per_record: 'trop de paramètres pour le nombre d’enregistrements de ce site',
    min_cohort_difference: 'ces enregistrements ne diffèrent d’une publication antérieure que de quelques patients',
    min_time_bin_days: 'la grille de temps est plus fine que ce que le site autorise',
    never_released: 'identifiants, textes libres et dates ne sont jamais publiés comme libellés',
    allowed_analyses: 'ce site n’autorise pas cette analyse',
    approval: 'son responsable des données a refusé cette publication',
    hub_signature: 'la tâche n’est pas signée par le hub auquel ce site se fie',
    replay: 'cette tâche a déjà été exécutée',
    task_site: 'la tâche était adressée à un autre site',
    protocol: 'ce site ne répond qu’aux analyses des protocoles approuvés par son responsable des données',
    time_arithmetic: 'les temps de survie doivent être une variable de durée telle qu’enregistrée',
    count_audit: 'les effectifs publiés pourraient se combiner en un effectif de quelques patients',
  },
};

// [pattern, {en, zh, fr}]: {1}, {2}… are the pattern's groups; {rule:N} is group N's rule said
// in the language. The first pattern that matches is used.
const KINDS = [
  [/^site (\S+): rule approval: the custodian of site \S+ denied this release: (.*)$/s, {
    en: 'Site {1} refused: its custodian denied this release: “{2}”.',
    zh: '站点 {1} 拒绝：数据管理员拒绝了此次发布：“{2}”。',
    fr: 'Le site {1} a refusé : son responsable des données a refusé cette publication : « {2} ».',
  }],
  [/^site (\S+): withheld under the site's disclosure rules$/, {
    en: 'Site {1} withheld this under its disclosure rules.',
    zh: '站点 {1} 依据其披露规则未予发布。',
    fr: 'Le site {1} l’a retenu en vertu de ses règles de diffusion.',
  }],
  [/^site (\S+): rule (\w+)\b/, {
    en: 'Site {1} refused: {rule:2}.',
    zh: '站点 {1} 拒绝：{rule:2}。',
    fr: 'Le site {1} a refusé : {rule:2}.',
  }],
  // As the site's own audit log says it (the custodian's page).
  [/^rule approval: the custodian of site \S+ denied this release: (.*)$/s, {
    en: 'Denied by the custodian: “{1}”.',
    zh: '数据管理员拒绝：“{1}”。',
    fr: 'Refusée par le responsable des données : « {1} ».',
  }],
  [/^rule (\w+)\b/, {
    en: 'Refused: {rule:1}.',
    zh: '已拒绝：{rule:1}。',
    fr: 'Refusée : {rule:1}.',
  }],
  [/^site (\S+): did not answer within (\d+) s/, {
    en: 'Site {1} did not answer within {2} s.',
    zh: '站点 {1} 在 {2} 秒内未应答。',
    fr: 'Le site {1} n’a pas répondu en {2} s.',
  }],
  [/^site (\S+): its custodian did not decide within (\d+) s/, {
    en: 'The custodian of site {1} did not decide within {2} s.',
    zh: '站点 {1} 的数据管理员未在 {2} 秒内作出决定。',
    fr: 'Le responsable des données du site {1} n’a pas décidé en {2} s.',
  }],
  [/^site (\S+): not connected to the hub/, {
    en: 'Site {1} is not connected to the hub.',
    zh: '站点 {1} 未连接到中心。',
    fr: 'Le site {1} n’est pas connecté au hub.',
  }],
  [/^site (\S+): its dataset changed during the study \(version (\d+), then (\d+)\)/, {
    en: 'The dataset of site {1} changed during the study (version {2}, then {3}); run it again.',
    zh: '站点 {1} 的数据集在研究期间发生了变化（版本 {2}，然后 {3}）；请重新运行。',
    fr: 'Le jeu de données du site {1} a changé pendant l’étude (version {2}, puis {3}) ; relancez-la.',
  }],
  [/^site (\S+): its audit log ends at entry (\d+), but the hub has seen entry (\d+)/, {
    en: 'The audit log of site {1} ends at entry {2}, but the hub has seen entry {3}.',
    zh: '站点 {1} 的审计日志止于第 {2} 条，但中心已见过第 {3} 条。',
    fr: 'Le journal d’audit du site {1} s’arrête à l’entrée {2}, mais le hub a vu l’entrée {3}.',
  }],
  [/^site (\S+): answered /, {
    en: 'Site {1} sent an answer the hub cannot read.',
    zh: '站点 {1} 发送了中心无法读取的应答。',
    fr: 'Le site {1} a envoyé une réponse illisible pour le hub.',
  }],
  [/^site (\S+): site \S+ has no dataset '(.*)'$/, {
    en: 'Site {1} has no dataset “{2}”.',
    zh: '站点 {1} 没有数据集“{2}”。',
    fr: 'Le site {1} n’a pas de jeu de données « {2} ».',
  }],
  [/^the hub stopped during the study; run it again$/, {
    en: 'The hub stopped during the study; run it again.',
    zh: '研究期间中心已停止；请重新运行。',
    fr: 'Le hub s’est arrêté pendant l’étude ; relancez-la.',
  }],
  [/^observations deleted due to missingness: (\d+) plus fewer than k at a site/, {
    en: '{1} records left out for missing values, plus fewer than k at a site that withholds small counts.',
    zh: '因缺失值排除 {1} 条记录，另有某站点不足 k 条（该站点不公布小计数）。',
    fr: '{1} enregistrements écartés pour valeurs manquantes, plus moins de k dans un site qui masque les petits effectifs.',
  }],
  [/^(\d+) observations? deleted due to missingness$/, {
    en: '{1} records left out for missing values.',
    zh: '因缺失值排除 {1} 条记录。',
    fr: '{1} enregistrements écartés pour valeurs manquantes.',
  }],
  [/^(\d+) rows? with a missing value/, {
    en: '{1} records with a missing value are not counted.',
    zh: '{1} 条含缺失值的记录未计入。',
    fr: '{1} enregistrements avec une valeur manquante ne sont pas comptés.',
  }],
  [/^stratified by site:/, {
    en: 'Stratified by site: each site has its own baseline hazard, as with + strata(site).',
    zh: '按站点分层：每个站点有各自的基线风险，等同于 + strata(site)。',
    fr: 'Stratifié par site : chaque site a son propre risque de base, comme avec + strata(site).',
  }],
  [/^(.+): no curve; site (\S+) withholds it/, {
    en: '{1}: no curve; site {2} withholds it (fewer than k patients or events).',
    zh: '{1}：无曲线；站点 {2} 未公布（患者或事件少于 k）。',
    fr: '{1} : pas de courbe ; le site {2} la masque (moins de k patients ou événements).',
  }],
  [/^(.+): shown to day (\d+); after it a site has fewer than k/, {
    en: '{1}: shown to day {2}; after it a site has fewer than k patients at risk.',
    zh: '{1}：显示至第 {2} 天；此后某站点的风险人数少于 k。',
    fr: '{1} : affichée jusqu’au jour {2} ; au-delà, un site a moins de k patients à risque.',
  }],
  [/^log-rank test over days 0 to (\d+);/, {
    en: 'Log-rank test over days 0 to {1}; after it a site has fewer than k patients at risk.',
    zh: 'Log-rank 检验覆盖第 0 至 {1} 天；此后某站点的风险人数少于 k。',
    fr: 'Test du log-rank sur les jours 0 à {1} ; au-delà, un site a moins de k patients à risque.',
  }],
  [/^cells where a site has 1 to k-1 records are suppressed/, {
    en: 'Cells where a site has 1 to k−1 records are withheld there, and so in the total.',
    zh: '某站点记录数为 1 至 k−1 的单元格在该站点被隐去，因此合计中也隐去。',
    fr: 'Les cases où un site a 1 à k−1 enregistrements y sont masquées, donc aussi dans le total.',
  }],
  [/^site (\S+): survdiff compares one kind of event/, {
    en: 'Site {1}: the log-rank test compares one kind of event; give the event as 0/1 or a condition.',
    zh: '站点 {1}：Log-rank 检验只比较一种事件；请以 0/1 或条件给出事件。',
    fr: 'Site {1} : le test du log-rank compare un seul type d’événement ; donnez l’événement en 0/1 ou par une condition.',
  }],
  [/^warning: (.*)$/s, {
    en: 'Warning: {1}',
    zh: '警告：{1}',
    fr: 'Avertissement : {1}',
  }],
];

// `text` in `language` ("en", "zh", "fr"); unknown kinds unchanged.
export function translateMessage(text, language) {
  for (const [pattern, says] of KINDS) {
    const m = pattern.exec(text);
    if (!m) continue;
    const template = says[language] || says.en;
    return template.replace(/\{(rule:)?(\d+)\}/g, (_, rule, n) => {
      const value = m[Number(n)] || '';
      if (!rule) return value;
      return (RULES[language] || RULES.en)[value] || RULES.en[value] || value;
    });
  }
  return text;
}
