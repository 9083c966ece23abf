// Lvyue's GraphQL console: GraphiQL, with a token field that fills the Authorization header.
// The token lives in sessionStorage (this tab only) and is sent only to this server's
// /graphql: the page loads nothing from any other origin (the server's Content-Security-Policy
// forbids it). A link may carry the token as #token=…, which never reaches a server; it is
// moved into the field and taken off the address bar at once.
(function () {
  'use strict';
  var KEY = 'lvyue.console.token';
  var input = document.getElementById('token');
  var who = document.getElementById('who');
  var mount = document.getElementById('graphiql');
  var root = ReactDOM.createRoot(mount);
  // Subscriptions go over this server's WebSocket (graphql-transport-ws); the header editor's
  // Authorization travels in connection_init.
  var fetcher = GraphiQL.createFetcher({
    url: mount.dataset.endpoint,
    subscriptionUrl: (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + mount.dataset.subscriptions
  });
  var DEFAULT_QUERY = [
    '# Lvyue GraphQL. 在上方粘贴访问令牌，它会填入 Headers 的 Authorization。',
    '# Paste a token above: it fills the Authorization header (Headers, below).',
    '# 运行 Run: Ctrl-Enter',
    '',
    '{',
    '  apiVersion',
    '}',
    ''
  ].join('\n');

  function read() {
    try { return sessionStorage.getItem(KEY) || ''; } catch (e) { return ''; }
  }
  function store(token) {
    try {
      if (token) { sessionStorage.setItem(KEY, token); } else { sessionStorage.removeItem(KEY); }
    } catch (e) { /* storage off: the token lasts until the page is left */ }
  }
  // The role and subject a token names, for the caller to see whom they act as. Read from the
  // token's payload without checking it: the server checks it on every request.
  function describe(token) {
    var parts = token.split('.');
    if (parts.length !== 3) { return '令牌格式不对 not a JWT'; }
    try {
      var json = atob(parts[1].replace(/-/g, '+').replace(/_/g, '/'));
      var claims = JSON.parse(decodeURIComponent(escape(json)));
      return [claims.role, claims.sub].filter(Boolean).join(' · ');
    } catch (e) {
      return '令牌格式不对 not a JWT';
    }
  }
  function render(token) {
    who.textContent = token ? describe(token) : '匿名 anonymous';
    var headers = token ? JSON.stringify({ Authorization: 'Bearer ' + token }, null, 2) : '';
    root.render(React.createElement(GraphiQL, {
      // A new token mounts a new editor, so that the header editor shows it.
      key: token,
      fetcher: fetcher,
      defaultQuery: DEFAULT_QUERY,
      headers: headers,
      defaultEditorToolsVisibility: token ? 'headers' : false,
      shouldPersistHeaders: false
    }));
  }
  function use(token) {
    token = token.trim().replace(/^Bearer\s+/i, '');
    store(token);
    input.value = token;
    render(token);
  }

  var fromLink = /^#token=(.+)$/.exec(location.hash);
  if (fromLink) {
    history.replaceState(null, '', location.pathname + location.search);
    use(decodeURIComponent(fromLink[1]));
  } else {
    use(read());
  }
  input.addEventListener('change', function () { use(input.value); });
  document.getElementById('token-bar').addEventListener('submit', function (e) {
    e.preventDefault();
    use(input.value);
  });
  document.getElementById('forget').addEventListener('click', function () { use(''); });
}());
