// Lector's web page: upload with live text-extraction progress, a live card per book (server-sent
// events, with polling as the fallback) with a book player (page after page, the place kept on the
// server, the text read along, chapters), each page's audio, and the cluster's nodes.
// Plain browser JavaScript: no build step, no libraries, nothing loaded from elsewhere.
(function () {
  'use strict';

  // A browser allows about six HTTP/1.1 connections per server: keep most of them for requests.
  var MAX_STREAMS = 3;
  var POLL_MS = 2000;
  var CLUSTER_MS = 3000;
  var PAGES_DEBOUNCE_MS = 600;
  var PAGES_MAX_WAIT_MS = 2000;

  var views = new Map(); // book id (number) -> view

  function $(selector, root) { return (root || document).querySelector(selector); }

  /** Builds an element: el('p', {class: 'x', hidden: true}, 'text', child, …). */
  function el(tag, attrs) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        var value = attrs[key];
        if (value === false || value === null || value === undefined) return;
        if (key === 'text') node.textContent = value;
        else if (key.slice(0, 2) === 'on') node.addEventListener(key.slice(2), value);
        else node.setAttribute(key, value === true ? '' : String(value));
      });
    }
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    }
    return node;
  }

  function show(node, visible) { node.hidden = !visible; }

  function parseJSON(text) {
    try { return JSON.parse(text); } catch (e) { return null; }
  }

  // MARK: API token

  // When the gateway has an API token, every /api/ and /media/ request needs `Authorization: Bearer`.
  // The page learns that from a 401, asks once (one dialog however many requests were refused), keeps
  // the token in localStorage and sends it from then on. A stored token that is refused is forgotten
  // and asked for again. Without a token nothing is added to any request.
  var TOKEN_KEY = 'lector.apiToken';
  var memoryToken = '';
  var tokenAsking = null;   // the promise of the open dialog
  var tokenDeclined = false; // the user cancelled: do not ask again by itself
  var tokenListeners = [];

  function storedToken() {
    try { return window.localStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return memoryToken; }
  }

  function storeToken(token) {
    memoryToken = token || '';
    try {
      if (token) window.localStorage.setItem(TOKEN_KEY, token);
      else window.localStorage.removeItem(TOKEN_KEY);
    } catch (e) { /* private mode: the token lives as long as the page */ }
    tokenListeners.forEach(function (listener) { listener(memoryToken); });
  }

  function needsToken(path) { return /^\/(api|media)\//.test(path); }

  function withToken(options, token) {
    var copy = {};
    Object.keys(options || {}).forEach(function (key) { copy[key] = options[key]; });
    var headers = new Headers((options && options.headers) || {});
    if (token) headers.set('Authorization', 'Bearer ' + token);
    copy.headers = headers;
    return copy;
  }

  /** fetch() with the stored token; a 401 asks for the token and tries again with it. */
  function authFetch(path, options) {
    var token = storedToken();
    return fetch(path, withToken(options, token)).then(function (response) {
      if (response.status !== 401 || !needsToken(path)) return response;
      if (token && storedToken() === token) storeToken(''); // the stored token was refused
      return askToken(token).then(function () {
        return authFetch(path, options);
      }, function () { return response; });
    });
  }

  var tokenDialog = $('#token-dialog');
  var tokenForm = $('#token-form');
  var tokenInput = $('#token-input');
  var tokenReason = $('#token-reason');
  var tokenForget = $('#token-forget');
  var tokenButton = $('#token-button');
  var tokenPrompt = null; // {resolve, reject} of the dialog on screen

  /**
   * Resolves once a token other than `refused` is stored (at once when another request already got
   * one), rejects when the user cancels. Concurrent callers share one dialog.
   */
  function askToken(refused) {
    var current = storedToken();
    if (current && current !== refused) return Promise.resolve(current);
    if (tokenAsking) return tokenAsking;
    if (tokenDeclined) return Promise.reject(new Error('no API token'));
    tokenAsking = new Promise(function (resolve, reject) {
      var reason = refused ? 'The server refused the stored API token. Enter the right one.'
        : 'This server needs an API token.';
      openTokenDialog(reason, { resolve: resolve, reject: reject });
    });
    var settle = function () { tokenAsking = null; };
    tokenAsking.then(settle, settle);
    return tokenAsking;
  }

  function openTokenDialog(reason, prompt) {
    show(tokenButton, true);
    tokenPrompt = prompt;
    if (!tokenDialog || typeof tokenDialog.showModal !== 'function') {
      var answer = window.prompt(reason + ' (Authorization: Bearer …)', '');
      finishTokenDialog(answer ? answer.trim() : '');
      return;
    }
    tokenReason.textContent = reason;
    tokenInput.value = '';
    show(tokenForget, !!storedToken());
    if (!tokenDialog.open) tokenDialog.showModal();
    tokenInput.focus();
  }

  /** The dialog's outcome: a token (saved), or '' (cancelled). */
  function finishTokenDialog(token) {
    var prompt = tokenPrompt;
    tokenPrompt = null;
    if (tokenDialog && tokenDialog.open) tokenDialog.close();
    if (token) {
      tokenDeclined = false;
      storeToken(token);
      if (prompt) prompt.resolve(token);
      else { // entered through the button: fetch what was refused before
        views.forEach(function (view) { view.eventsBroken = false; });
        loadBooks();
      }
    } else {
      if (prompt) {
        tokenDeclined = true;
        prompt.reject(new Error('no API token'));
      }
    }
  }

  if (tokenForm) {
    tokenForm.addEventListener('submit', function (event) {
      event.preventDefault();
      var token = tokenInput.value.trim();
      if (!token) { tokenInput.focus(); return; }
      finishTokenDialog(token);
    });
    $('#token-cancel').addEventListener('click', function () { finishTokenDialog(''); });
    tokenDialog.addEventListener('cancel', function (event) { // Escape
      event.preventDefault();
      finishTokenDialog('');
    });
    tokenForget.addEventListener('click', function () {
      storeToken('');
      show(tokenForget, false);
      tokenInput.focus();
    });
    tokenButton.addEventListener('click', function () {
      if (tokenPrompt) return;
      openTokenDialog(storedToken() ? 'Change or forget the API token this page sends.'
        : 'This server needs an API token.', null);
    });
  }
  show(tokenButton, !!storedToken());

  /** Calls the JSON API; resolves with the envelope's `data`, rejects with its message. */
  function api(path, options) {
    return authFetch(path, options).then(function (response) {
      return response.text().then(function (text) {
        var body = parseJSON(text);
        if (!response.ok || !body || body.status !== 'PASS') {
          var error = new Error((body && body.message) || ('HTTP ' + response.status + ' from ' + path));
          error.status = response.status;
          error.code = body && body.error ? body.error.code : undefined;
          throw error;
        }
        return body.data;
      });
    }, function (cause) {
      var error = new Error('The server cannot be reached (' + cause.message + ').');
      error.status = 0;
      throw error;
    });
  }

  /** A `text/event-stream` parser: feed it text as it arrives; it calls onEvent({event, data, id}). */
  function SSEParser(onEvent, onRetry, lastEventId) {
    var buffer = '';
    var name = '';
    var data = [];
    var lastId = lastEventId === undefined ? null : lastEventId;

    function line(text) {
      if (text === '') {
        if (data.length) onEvent({ event: name || 'message', data: data.join('\n'), id: lastId });
        name = '';
        data = [];
        return;
      }
      if (text.charAt(0) === ':') return;
      var colon = text.indexOf(':');
      var field = colon < 0 ? text : text.slice(0, colon);
      var value = colon < 0 ? '' : text.slice(colon + 1);
      if (value.charAt(0) === ' ') value = value.slice(1);
      if (field === 'event') name = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id') { if (value.indexOf('\0') < 0) lastId = value; }
      else if (field === 'retry') { if (/^[0-9]+$/.test(value) && onRetry) onRetry(Number(value)); }
    }

    this.push = function (text) {
      buffer += text;
      for (;;) {
        var match = /\r\n|\n|\r/.exec(buffer);
        if (!match) break;
        // A lone '\r' at the very end may be the first half of '\r\n': wait for more.
        if (match[0] === '\r' && match.index === buffer.length - 1) break;
        line(buffer.slice(0, match.index));
        buffer = buffer.slice(match.index + match[0].length);
      }
    };

    this.end = function () {
      if (buffer !== '') line(buffer.replace(/\r$/, ''));
      buffer = '';
      line('');
    };
  }

  function parseEvents(text) {
    var events = [];
    var parser = new SSEParser(function (event) { events.push(event); });
    parser.push(text);
    parser.end();
    return events;
  }

  function formatDuration(seconds) {
    if (seconds === null || seconds === undefined) return '';
    var s = Math.max(0, Math.round(seconds));
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    var rest = String(s % 60).padStart(2, '0');
    return h ? h + ':' + String(m).padStart(2, '0') + ':' + rest : m + ':' + rest;
  }

  function timeAgo(iso) {
    if (!iso) return 'never';
    var then = Date.parse(iso);
    if (isNaN(then)) return iso;
    var seconds = Math.max(0, Math.round((Date.now() - then) / 1000));
    if (seconds < 60) return seconds + ' s ago';
    if (seconds < 3600) return Math.round(seconds / 60) + ' min ago';
    return new Date(then).toLocaleString();
  }

  // MARK: Upload

  var fileInput = $('#file-input');
  var dropZone = $('#drop-zone');
  var titleInput = $('#title');
  var languageSelect = $('#language');
  var qualityFast = $('#quality-fast');
  var naturalDetail = $('#quality-natural-detail');
  var qualityNote = $('#quality-note');
  var uploadStatus = $('#upload-status');
  var uploadMessage = $('#upload-message');
  var uploadProgress = $('#upload-progress');
  var uploadError = $('#upload-error');
  var uploadChain = Promise.resolve();

  function showUploadError(text) {
    uploadError.textContent = text;
    show(uploadError, true);
  }

  function clearUploadError() {
    uploadError.textContent = '';
    show(uploadError, false);
  }

  function setUploadProgress(message, percent) {
    show(uploadStatus, true);
    if (message) uploadMessage.textContent = message;
    if (percent === null) {
      uploadProgress.removeAttribute('value'); // indeterminate while the bytes are sent
      uploadProgress.removeAttribute('aria-valuenow');
    } else {
      var value = Math.max(0, Math.min(100, Math.round(percent)));
      uploadProgress.value = value;
      uploadProgress.setAttribute('aria-valuenow', String(value));
    }
  }

  var rejectionLabels = {
    400: 'Upload refused',
    401: 'Not allowed (this server needs an API token)',
    413: 'File too large',
    415: 'Not a PDF',
    422: 'Unreadable PDF',
    503: 'The cluster is not ready',
  };

  function rejectionText(status, message, fileName) {
    var label = rejectionLabels[status] || (status ? 'Upload failed (HTTP ' + status + ')' : 'Upload failed');
    return label + ': ' + (fileName ? fileName + ' — ' : '') + (message || 'no reason given.');
  }

  /** The reason in a refused upload's body: one SSE `error` event, or a JSON envelope. */
  function rejectionMessage(text) {
    var envelope = parseJSON(text);
    if (envelope && typeof envelope.message === 'string') return envelope.message;
    var events = parseEvents(text);
    for (var i = 0; i < events.length; i++) {
      if (events[i].event !== 'error') continue;
      var payload = parseJSON(events[i].data) || {};
      return payload.error || payload.message || events[i].data;
    }
    return text.trim().slice(0, 300);
  }

  function queueUploads(files) {
    Array.prototype.forEach.call(files, function (file) {
      uploadChain = uploadChain.then(function () { return upload(file); }, function () { return upload(file); });
    });
  }

  function upload(file) {
    clearUploadError();
    var form = new FormData();
    var title = titleInput.value.trim();
    if (title) form.append('title', title);
    if (languageSelect.value) form.append('language', languageSelect.value);
    // Natural is the server's default: only the fast choice is sent.
    if (qualityFast && qualityFast.checked) form.append('quality', 'fast');
    form.append('file', file, file.name);
    setUploadProgress('Uploading ' + file.name + '…', null);

    return authFetch('/api/books/upload/?stream=true', { method: 'POST', body: form }).then(function (response) {
      var type = (response.headers.get('content-type') || '').toLowerCase();
      if (!response.ok) {
        return response.text().then(function (text) {
          show(uploadStatus, false);
          showUploadError(rejectionText(response.status, rejectionMessage(text), file.name));
        });
      }
      if (type.indexOf('text/event-stream') < 0) {
        // A server answering with the JSON envelope instead of a stream.
        return response.text().then(function (text) {
          var body = parseJSON(text);
          if (body && body.status === 'PASS' && body.data) return uploadCompleted(body.data);
          show(uploadStatus, false);
          showUploadError(rejectionText(response.status, rejectionMessage(text), file.name));
        });
      }
      return readUploadStream(response, file);
    }).catch(function (error) {
      show(uploadStatus, false);
      showUploadError('Upload failed: ' + file.name + ' — ' + error.message);
    });
  }

  function readUploadStream(response, file) {
    var finished = false;
    var parser = new SSEParser(function (event) {
      var data = parseJSON(event.data) || {};
      switch (event.event) {
        case 'status':
          setUploadProgress(data.message, null);
          break;
        case 'processing_started':
          setUploadProgress(data.message || ('Extracting text from ' + data.total_pages + ' pages…'), 0);
          break;
        case 'text_progress':
          setUploadProgress(data.message || ('Page ' + data.current_page + '/' + data.total_pages), data.progress);
          break;
        case 'completed':
          finished = true;
          uploadCompleted(data);
          break;
        case 'error':
          finished = true;
          show(uploadStatus, false);
          var status = /HTTP (\d{3})/.exec(data.details || '');
          showUploadError(rejectionText(status ? Number(status[1]) : 0, data.error || data.details, file.name));
          break;
      }
    });
    var done = function () {
      parser.end();
      if (!finished) {
        show(uploadStatus, false);
        showUploadError('Upload failed: ' + file.name + ' — the server ended the stream before the book was created.');
      }
    };
    if (!response.body || !response.body.getReader) {
      return response.text().then(function (text) { parser.push(text); done(); });
    }
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    function pump() {
      return reader.read().then(function (chunk) {
        if (chunk.done) {
          parser.push(decoder.decode());
          done();
          return;
        }
        parser.push(decoder.decode(chunk.value, { stream: true }));
        return pump();
      });
    }
    return pump();
  }

  function uploadCompleted(data) {
    setUploadProgress('“' + data.title + '”: ' + data.total_pages + ' pages read. ' + (data.message || ''), 100);
    titleInput.value = '';
    var id = Number(data.book_id);
    var view = ensureView(id);
    applySummary(view, {
      id: id, title: data.title, total_pages: data.total_pages, processing_status: 'pending', processing_progress: 0,
    });
    view.details.open = true; // show the new book's pages as they are spoken
    show($('#books-empty'), false);
    refreshStatus(view).then(function () { follow(view); }, function () { follow(view); });
  }

  fileInput.addEventListener('change', function () {
    var files = Array.prototype.slice.call(fileInput.files || []);
    if (files.length) queueUploads(files);
    fileInput.value = ''; // choosing the same file again uploads it again
  });

  ['dragenter', 'dragover'].forEach(function (name) {
    dropZone.addEventListener(name, function (event) {
      event.preventDefault();
      if (event.dataTransfer) event.dataTransfer.dropEffect = 'copy';
      dropZone.classList.add('dragging');
    });
  });
  ['dragleave', 'dragend'].forEach(function (name) {
    dropZone.addEventListener(name, function () { dropZone.classList.remove('dragging'); });
  });
  dropZone.addEventListener('drop', function (event) {
    event.preventDefault();
    dropZone.classList.remove('dragging');
    var files = event.dataTransfer ? event.dataTransfer.files : null;
    if (files && files.length) queueUploads(files);
  });
  // A file dropped beside the zone must not make the browser navigate away to it.
  window.addEventListener('dragover', function (event) { event.preventDefault(); });
  window.addEventListener('drop', function (event) { event.preventDefault(); });
  dropZone.addEventListener('click', function (event) {
    if (event.target === fileInput || event.target.tagName === 'LABEL') return;
    fileInput.click();
  });
  dropZone.addEventListener('keydown', function (event) {
    if (event.target !== dropZone) return;
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      fileInput.click();
    }
  });

  // MARK: Voices

  // The natural option names the natural voices some worker has (GET /api/voices/), or says there is
  // none. Asked again whenever the set of live workers changes, as voices come with the workers.
  var voicesKey = null;   // the live workers the shown voices are for
  var voicesAsked = false;
  var voicesRequest = 0;  // only the latest answer is shown
  var languageNames = null;
  try { languageNames = new Intl.DisplayNames(['en'], { type: 'language' }); } catch (e) { /* old browser */ }

  /** "en" → "English" where the browser knows the code, else the code itself. */
  function languageName(code) {
    if (!code) return '';
    try {
      var name = languageNames && languageNames.of(code);
      if (name && name !== code) return name;
    } catch (e) { /* not a language code */ }
    return code;
  }

  function renderVoices(voices) {
    if (!naturalDetail) return;
    var natural = voices.filter(function (voice) { return voice.quality === 'natural'; });
    if (qualityNote) show(qualityNote, natural.length > 0);
    if (!voices.length) {
      naturalDetail.textContent = 'no worker is up yet, so no voice is known';
      return;
    }
    naturalDetail.textContent = natural.length
      ? (natural.length > 1 ? 'voices ' : 'voice ') + natural.map(function (voice) {
        return voice.name + ' (' + languageName(voice.language) + ')';
      }).join(', ')
      : 'no natural voice on this cluster: pages are read with espeak-ng';
  }

  function loadVoices() {
    voicesAsked = true;
    var request = ++voicesRequest;
    return api('/api/voices/').then(function (voices) {
      if (request === voicesRequest) renderVoices(Array.isArray(voices) ? voices : []);
    }, function (error) {
      if (request !== voicesRequest || !naturalDetail) return;
      naturalDetail.textContent = 'the voices could not be listed (' + error.message + ')';
    });
  }

  /** Called with each cluster listing: the voices are asked again when the live workers change. */
  function voicesFollowCluster(nodes) {
    var key = nodes.filter(function (node) { return node.role === 'worker' && node.state !== 'down'; })
      .map(function (node) { return node.name; }).sort().join(' ');
    if (key === voicesKey) return;
    voicesKey = key;
    loadVoices();
  }

  // MARK: Books

  var booksContainer = $('#books');
  var booksError = $('#books-error');

  function ensureView(id) {
    var view = views.get(id);
    if (view) return view;
    view = {
      id: id,
      title: 'Book ' + id,
      status: null,
      pages: new Map(),
      stream: null,
      pollTimer: null,
      eventsBroken: false,
      lastEventId: null,
      pagesTimer: null,
      pagesFirstAsk: 0,
      pagesLoading: false,
      pagesStale: true,
    };
    var base = '/api/books/' + id;
    view.titleNode = el('h3', { class: 'book-title' });
    view.badge = el('span', { class: 'badge book-status' });
    view.progress = el('progress', {
      class: 'book-progress', max: 100, value: 0, 'data-progress': 0, 'aria-valuemin': 0, 'aria-valuemax': 100,
      'aria-valuenow': 0, 'aria-label': 'Audio progress',
    });
    view.count = el('span', { class: 'book-count' });
    view.percent = el('span', { class: 'book-percent' });
    view.eta = el('span', { class: 'book-eta' });
    view.breakdown = el('p', { class: 'book-breakdown hint' });
    view.download = el('a', { class: 'button download', href: base + '/audio/', download: true, hidden: true },
      'Download book (MP3)');
    view.downloadM4b = el('a', {
      class: 'button download download-m4b', href: base + '/audio/?format=m4b', download: true, hidden: true,
      title: 'AAC in an MP4 file with chapters, for audiobook players',
    }, 'Download audiobook (M4B)');
    view.retryButton = el('button', { type: 'button', class: 'retry-book', hidden: true }, 'Retry failed pages');
    view.deleteButton = el('button', { type: 'button', class: 'delete danger' }, 'Delete');
    view.errorNode = el('p', { class: 'book-error error', role: 'alert', hidden: true });
    view.list = el('ol', { class: 'pages' });
    view.pagesNote = el('p', { class: 'hint pages-note', hidden: true });
    view.details = el('details', { class: 'pages-details' },
      el('summary', null, 'Pages'), view.pagesNote, view.list);
    view.root = el('article', { class: 'book', 'data-book-id': id },
      el('div', { class: 'book-head' }, view.titleNode, view.badge),
      view.progress,
      el('p', { class: 'book-meta' }, view.count, ' · ', view.percent, ' · ', view.eta),
      view.breakdown,
      view.actions = el('div', { class: 'book-actions' }, view.download, view.downloadM4b, view.retryButton,
        view.deleteButton),
      view.errorNode,
      view.details);

    view.retryButton.addEventListener('click', function () { retryBook(view); });
    view.deleteButton.addEventListener('click', function () { deleteBook(view); });
    view.download.addEventListener('click', function (event) { downloadBook(view, event, view.download, 'mp3'); });
    view.downloadM4b.addEventListener('click', function (event) {
      downloadBook(view, event, view.downloadM4b, 'm4b');
    });
    view.details.addEventListener('toggle', function () {
      if (view.details.open && view.pagesStale) loadPages(view);
    });

    views.set(id, view);
    // Newest first, as the server lists them.
    var after = null;
    views.forEach(function (other) {
      if (other !== view && other.id < id && (!after || other.id > after.id)) after = other;
    });
    booksContainer.insertBefore(view.root, after ? after.root : null);
    return view;
  }

  function setBookError(view, text) {
    view.errorNode.textContent = text || '';
    show(view.errorNode, !!text);
  }

  function setProgress(view, percent) {
    var value = Math.max(0, Math.min(100, Math.floor(Number(percent) || 0)));
    view.progress.value = value;
    view.progress.setAttribute('value', String(value));
    view.progress.setAttribute('data-progress', String(value));
    view.progress.setAttribute('aria-valuenow', String(value));
    view.percent.textContent = value + '%';
  }

  function setBadge(node, status) {
    node.textContent = status;
    node.className = node.className.replace(/\bstatus-\S+/g, '').trim() + ' status-' + status;
  }

  function applySummary(view, summary) {
    view.title = summary.title;
    view.titleNode.textContent = summary.title;
    view.root.setAttribute('data-status', summary.processing_status);
    setBadge(view.badge, summary.processing_status);
    setProgress(view, summary.processing_progress);
    if (!view.status) {
      view.count.textContent = summary.total_pages + ' pages';
      view.eta.textContent = summary.processing_status === 'completed' ? 'Complete!' : 'ETA …';
    }
  }

  function isSettled(status) {
    if (!status) return false;
    var pages = status.pages_status || {};
    if (status.audio_ready || status.processing_status === 'completed') return true;
    return status.processing_status === 'failed' && !pages.pending && !pages.processing;
  }

  function applyStatus(view, status) {
    if (!status || typeof status !== 'object') return;
    var previous = view.status;
    view.status = status;
    var pages = status.pages_status || { pending: 0, processing: 0, completed: 0, failed: 0 };
    applySummary(view, status);
    view.count.textContent = pages.completed + '/' + status.total_pages + ' pages';
    view.eta.textContent = status.estimated_time_remaining === 'Complete!'
      ? 'Complete!' : 'ETA ' + (status.estimated_time_remaining || '…');
    var parts = [];
    if (pages.processing) parts.push(pages.processing + ' processing');
    if (pages.pending) parts.push(pages.pending + ' queued');
    if (pages.failed) parts.push(pages.failed + ' failed');
    parts.push(status.pages_with_audio + ' with audio');
    view.breakdown.textContent = parts.join(' · ');
    // The whole-book file exists once every page is done, and only when some page has speech.
    show(view.download, !!status.audio_ready && status.pages_with_audio > 0);
    show(view.downloadM4b, !!status.audio_ready && status.pages_with_audio > 0);
    // The book player, once some page can be heard.
    if (status.pages_with_audio > 0) ensureBookPlayer(view);
    show(view.retryButton, pages.failed > 0);
    var changed = !previous || JSON.stringify(previous.pages_status) !== JSON.stringify(status.pages_status) ||
      previous.pages_with_audio !== status.pages_with_audio;
    if (changed) schedulePagesRefresh(view);
    if (isSettled(status)) stopFollowing(view);
  }

  function refreshStatus(view) {
    return api('/api/books/' + view.id + '/status/').then(function (status) {
      setBookError(view, '');
      applyStatus(view, status);
      return status;
    }, function (error) {
      if (error.status === 404) removeView(view);
      else setBookError(view, error.message);
      throw error;
    });
  }

  // Live updates: the book's event stream, or polling when events are not available.

  function openStreams() {
    var count = 0;
    views.forEach(function (view) { if (view.stream) count++; });
    return count;
  }

  function follow(view) {
    if (!views.has(view.id) || isSettled(view.status)) return;
    if (view.stream) return;
    if (canStream && !view.eventsBroken && openStreams() < MAX_STREAMS) startStream(view);
    else startPolling(view);
  }

  function stopFollowing(view) {
    if (view.stream) {
      view.stream.close();
      view.stream = null;
      promoteWaiting();
    }
    stopPolling(view);
  }

  /** A stream slot came free: give it to a book that is being polled. */
  function promoteWaiting() {
    views.forEach(function (other) {
      if (!other.stream && other.pollTimer && !other.eventsBroken && openStreams() < MAX_STREAMS) {
        startStream(other);
      }
    });
  }

  function eventData(event) { return parseJSON(event.data) || {}; }

  /** What the book's events change in its card. Returns true after `book_completed`/`book_deleted`. */
  function applyBookEvent(view, event) {
    var data = eventData(event);
    switch (event.event) {
      case 'status':
      case 'progress':
        applyStatus(view, data);
        return false;
      case 'book_completed':
        applyStatus(view, data);
        stopFollowing(view);
        return true;
      case 'book_deleted':
        removeView(view);
        return true;
      case 'page_processing':
        // `audio_url` (newer servers): the page's audio can be played while it is made.
        updatePage(view, {
          page_number: data.page_number, processing_status: 'processing', worker: data.worker,
          attempt: data.attempt, live_audio_url: data.audio_url || undefined,
        });
        return false;
      case 'page_completed':
        updatePage(view, {
          page_number: data.page_number, processing_status: 'completed', audio_url: data.audio_url,
          audio_duration: data.audio_duration, voice: data.voice, text_source: data.text_source, worker: null,
          language: data.language, text_quality: data.text_quality, error: undefined,
        });
        schedulePagesRefresh(view);
        return false;
      case 'page_failed':
        // `will_retry: false` (or `final: true`) means the page has given up.
        var final = data.will_retry === undefined ? !!data.final : !data.will_retry;
        updatePage(view, {
          page_number: data.page_number, processing_status: final ? 'failed' : 'pending', worker: null,
          error: final ? data.error : 'Attempt ' + (data.attempt || '') + ' failed (' + data.error + '); trying again.',
        });
        schedulePagesRefresh(view);
        return false;
    }
    return false;
  }

  var canStream = typeof fetch === 'function' && typeof TextDecoder === 'function' &&
    typeof ReadableStream === 'function' && typeof AbortController === 'function';
  var STREAM_RETRY_MS = 2000;     // until the server's `retry:` says otherwise
  var STREAM_MAX_BACKOFF_MS = 30000;
  var STREAM_MAX_RECONNECTS = 6;  // drops in a row without an event before falling back to polling

  /**
   * Follows the book's event stream with fetch() (so that it can carry the API token), parsing the
   * server-sent events itself. After a drop it reconnects with `Last-Event-ID` (the server then
   * sends exactly the events missed), backing off from the server's `retry:` up to 30 s, and polls
   * meanwhile; after STREAM_MAX_RECONNECTS drops in a row, or an answer that is not a stream, it
   * gives up and leaves the book to polling.
   */
  function startStream(view) {
    var path = '/api/books/' + view.id + '/events/';
    var stream = { closed: false, controller: null, timer: null, failures: 0, retryMs: STREAM_RETRY_MS };
    stream.close = function () {
      stream.closed = true;
      if (stream.timer) clearTimeout(stream.timer);
      stream.timer = null;
      if (stream.controller) stream.controller.abort();
    };
    view.stream = stream;

    function current() { return !stream.closed && view.stream === stream && views.has(view.id); }

    function giveUp() {
      if (view.stream === stream) view.stream = null;
      stream.close();
      if (!views.has(view.id)) return;
      view.eventsBroken = true;
      if (!isSettled(view.status)) startPolling(view);
      promoteWaiting();
    }

    function dropped() {
      if (!current()) return;
      stream.controller = null;
      stream.failures += 1;
      if (stream.failures > STREAM_MAX_RECONNECTS) { giveUp(); return; }
      startPolling(view); // keep the card moving while the stream is away
      var delay = Math.min(STREAM_MAX_BACKOFF_MS, stream.retryMs * Math.pow(2, stream.failures - 1));
      stream.timer = setTimeout(function () {
        stream.timer = null;
        connect();
      }, delay);
    }

    function connect() {
      if (!current()) return;
      var controller = new AbortController();
      stream.controller = controller;
      var headers = { Accept: 'text/event-stream' };
      if (view.lastEventId !== null && view.lastEventId !== undefined && view.lastEventId !== '') {
        headers['Last-Event-ID'] = view.lastEventId;
      }
      authFetch(path, { headers: headers, cache: 'no-store', signal: controller.signal }).then(function (response) {
        if (!current() || stream.controller !== controller) return;
        var type = (response.headers.get('content-type') || '').toLowerCase();
        if (!response.ok || type.indexOf('text/event-stream') < 0 || !response.body || !response.body.getReader) {
          // Refused for good (no such book, no token, an error answer): poll instead.
          if (response.status === 404) { refreshStatus(view).then(null, function () {}); }
          giveUp();
          return;
        }
        stopPolling(view);
        var ended = false;
        var parser = new SSEParser(function (event) {
          if (ended || !current()) return;
          if (event.id !== null && event.id !== view.lastEventId) {
            view.lastEventId = event.id;
            view.root.setAttribute('data-last-event-id', event.id); // what a resumed stream starts after
          }
          stream.failures = 0;
          ended = applyBookEvent(view, event);
        }, function (retry) { stream.retryMs = Math.max(250, retry); }, view.lastEventId);
        var reader = response.body.getReader();
        var decoder = new TextDecoder();
        function pump() {
          return reader.read().then(function (chunk) {
            if (!current() || ended) { reader.cancel().then(null, function () {}); return; }
            if (chunk.done) { dropped(); return; } // an unfinished last event is dropped, as EventSource does
            parser.push(decoder.decode(chunk.value, { stream: true }));
            return pump();
          });
        }
        return pump();
      }).then(null, function () {
        if (stream.controller === controller) dropped(); // a network error, or aborted by close()
      });
    }

    connect();
  }

  function startPolling(view) {
    if (view.pollTimer) return;
    var tick = function () {
      view.pollTimer = setTimeout(function () {
        if (!views.has(view.id)) return;
        refreshStatus(view).then(null, function (error) {
          if (error.status === 401) stopPolling(view); // no token: nothing to follow until one is entered
        }).then(function () {
          if (view.pollTimer && views.has(view.id) && !isSettled(view.status)) tick();
          else view.pollTimer = null;
        });
      }, POLL_MS);
    };
    tick();
  }

  function stopPolling(view) {
    if (view.pollTimer) clearTimeout(view.pollTimer);
    view.pollTimer = null;
  }

  // Pages

  /** Reloads the page list soon: at most every PAGES_DEBOUNCE_MS, and never later than PAGES_MAX_WAIT_MS. */
  function schedulePagesRefresh(view) {
    view.pagesStale = true;
    if (view.player) scheduleBookPlayerRefresh(view.player);
    if (!view.details.open) return;
    var now = Date.now();
    if (!view.pagesTimer) view.pagesFirstAsk = now;
    else clearTimeout(view.pagesTimer);
    var wait = Math.min(PAGES_DEBOUNCE_MS, Math.max(0, view.pagesFirstAsk + PAGES_MAX_WAIT_MS - now));
    view.pagesTimer = setTimeout(function () {
      view.pagesTimer = null;
      loadPages(view);
    }, wait);
  }

  var PAGES_LIMIT = 200; // the server's largest page of pages

  /**
   * Loads every page of the book, PAGES_LIMIT at a time: following `next_offset` (null after the last
   * one), or, from a server that does not send it, for as long as a full batch comes back. Each batch
   * is shown as it arrives.
   */
  function loadPages(view) {
    if (view.pagesLoading) {
      view.pagesAgain = true;
      return;
    }
    view.pagesLoading = true;
    view.pagesStale = false;
    if (!view.pages.size) {
      view.pagesNote.textContent = 'Loading pages…';
      show(view.pagesNote, true);
    }
    var seen = 0;
    var total = view.status ? view.status.total_pages : null;

    function batch(offset) {
      return api('/api/books/' + view.id + '/pages/?offset=' + offset + '&limit=' + PAGES_LIMIT).then(function (data) {
        if (!views.has(view.id)) return;
        var pages = data.pages || [];
        pages.forEach(function (page) { updatePage(view, page, true); });
        seen += pages.length;
        if (data.book && typeof data.book.total_pages === 'number') total = data.book.total_pages;
        var next = null;
        if (Object.prototype.hasOwnProperty.call(data, 'next_offset')) {
          next = typeof data.next_offset === 'number' ? data.next_offset : null;
        } else {
          var limit = typeof data.limit === 'number' ? data.limit : PAGES_LIMIT;
          next = pages.length > 0 && pages.length >= limit ? offset + pages.length : null;
        }
        if (next !== null && (next <= offset || (total !== null && next >= total && pages.length === 0))) next = null;
        if (next !== null) {
          view.pagesNote.textContent = 'Loading pages… (' + seen + (total ? ' of ' + total : '') + ')';
          show(view.pagesNote, true);
          return batch(next);
        }
        show(view.pagesNote, false);
        if (!view.pages.size) {
          view.pagesNote.textContent = 'This book has no pages.';
          show(view.pagesNote, true);
        }
      });
    }

    batch(0).then(null, function (error) {
      if (error.status === 404) { removeView(view); return; }
      view.pagesNote.textContent = 'Could not load the pages: ' + error.message;
      show(view.pagesNote, true);
      view.pagesStale = true;
    }).then(function () {
      view.pagesLoading = false;
      if (view.pagesAgain) {
        view.pagesAgain = false;
        schedulePagesRefresh(view);
      }
    });
  }

  /** Creates or updates one page's row in place, so an audio player in use is left alone. */
  function updatePage(view, change, full) {
    var number = Number(change.page_number);
    if (!number) return;
    var page = view.pages.get(number);
    if (!page) {
      page = { page_number: number };
      page.row = buildPageRow(view, number);
      view.pages.set(number, page);
      insertPageRow(view, page.row, number);
    }
    if (full) {
      if (!('error' in change)) delete page.error;
      if (change.processing_status !== 'processing') {
        page.worker = null;
        page.attempt = null;
      }
    }
    Object.keys(change).forEach(function (key) {
      if (change[key] === undefined) delete page[key];
      else if (key !== 'row') page[key] = change[key];
    });
    renderPage(view, page);
  }

  function insertPageRow(view, row, number) {
    var children = view.list.children;
    for (var i = 0; i < children.length; i++) {
      if (Number(children[i].getAttribute('data-page')) > number) {
        view.list.insertBefore(row, children[i]);
        return;
      }
    }
    view.list.appendChild(row);
  }

  function buildPageRow(view, number) {
    var row = el('li', { class: 'page', 'data-page': number });
    row.bookId = view.id;
    row.numberNode = el('span', { class: 'page-number' }, 'Page ' + number);
    row.badge = el('span', { class: 'badge page-status' });
    row.voiceNode = el('span', { class: 'page-voice hint' });
    row.durationNode = el('span', { class: 'page-duration hint' });
    row.playerSlot = el('div', { class: 'page-player' });
    row.errorNode = el('p', { class: 'page-error error', hidden: true });
    row.retryButton = el('button', { type: 'button', class: 'retry-page small', hidden: true }, 'Retry');
    row.retryButton.addEventListener('click', function () { retryBook(view); });
    row.textNode = el('p', { class: 'page-text-body' });
    row.textDetails = el('details', { class: 'page-text', hidden: true }, el('summary', null, 'Text'), row.textNode);
    row.appendChild(el('div', { class: 'page-head' }, row.numberNode, row.badge, row.voiceNode, row.durationNode));
    row.appendChild(row.playerSlot);
    row.appendChild(el('div', { class: 'page-failure' }, row.errorNode, row.retryButton));
    row.appendChild(row.textDetails);
    return row;
  }

  /**
   * Where a page's audio is (the API's one shape, `/media/books/1/page_0001.mp3`). `page_processing`
   * names it, but a page seen processing only in the page list has none: the book's first page is
   * taken before the browser follows the new book's events, and a polled book has no events.
   */
  function pageAudioPath(book, number) {
    return '/media/books/' + book + '/page_' + String(number).padStart(4, '0') + '.mp3';
  }

  /** A confidence 0–100 as a whole percentage, or null when unknown. */
  function confidencePercent(value) {
    return typeof value === 'number' && isFinite(value) ? Math.max(0, Math.min(100, Math.round(value))) : null;
  }

  /** The page head's voice line: "voice fr · OCR, 95 % confidence", "voice joe (natural)". */
  function pageVoiceText(page) {
    var parts = [];
    if (page.engine === 'piper' && page.voice) {
      parts.push('voice ' + page.voice + ' (natural)');
    } else if (page.language && page.voice && page.voice !== page.language) {
      parts.push('voice ' + page.language + ' (' + page.voice + ')');
    } else if (page.language || page.voice) {
      parts.push('voice ' + (page.language || page.voice));
    }
    if (page.text_source === 'ocr') {
      var confidence = confidencePercent(page.ocr_confidence);
      parts.push(confidence === null ? 'OCR' : 'OCR, ' + confidence + ' % confidence');
    } else if (page.text_source && page.text_source !== 'pdf') {
      parts.push('text: ' + page.text_source);
    }
    return parts.join(' · ');
  }

  /** Why a completed scan has no audio (the worker's reason, from the page's confidence). */
  function unreadableText(page) {
    if (page.ocr_confidence === 0) return 'Not voiced: no text could be read on the scan.';
    var confidence = confidencePercent(page.ocr_confidence);
    return 'Not voiced: the scan could not be read reliably' +
      (confidence === null ? '.' : ' (mean confidence ' + confidence + ' %).');
  }

  function renderPage(view, page) {
    var row = page.row;
    var status = page.processing_status || 'pending';
    row.setAttribute('data-status', status);
    setBadge(row.badge, status);
    if (status === 'processing' && page.worker) {
      row.badge.textContent = 'processing on ' + page.worker + (page.attempt > 1 ? ' (attempt ' + page.attempt + ')' : '');
    }
    var unreadable = page.text_quality === 'unreadable';
    row.setAttribute('data-quality', page.text_quality || '');
    if (page.language) row.setAttribute('data-language', page.language);
    else row.removeAttribute('data-language');
    if (page.engine) row.setAttribute('data-engine', page.engine);
    else row.removeAttribute('data-engine');
    row.voiceNode.textContent = pageVoiceText(page);
    row.durationNode.textContent = page.audio_duration !== null && page.audio_duration !== undefined
      ? formatDuration(page.audio_duration) : '';

    // A page being voiced can be played while it is made (its URL streams until the page is done),
    // but only without a token: a Blob needs the whole body, so with one the player comes on completion.
    var liveUrl = !page.audio_url && status === 'processing' && !storedToken()
      ? page.live_audio_url || pageAudioPath(row.bookId, page.page_number) : null;
    if (page.audio_url || liveUrl) {
      renderPlayer(row, page, page.audio_url || liveUrl, !!liveUrl);
    } else if (unreadable) {
      releasePlayer(row);
      row.playerSlot.replaceChildren(el('p', { class: 'page-note page-unreadable', role: 'note' },
        el('span', { class: 'page-note-icon', 'aria-hidden': 'true' }, '⚠'), ' ', unreadableText(page)));
    } else {
      releasePlayer(row);
      row.playerSlot.textContent = status === 'completed' ? 'Nothing to read aloud on this page.' : '';
    }

    var error = page.error || '';
    row.errorNode.textContent = error;
    show(row.errorNode, !!error);
    show(row.retryButton, status === 'failed');

    if (typeof page.text_content === 'string') {
      row.textNode.textContent = page.text_content || '(no text)';
      show(row.textDetails, true);
    }
  }

  // Audio players. Without a token an <audio> plays the URL itself, as any page would. With one, the
  // MP3 is fetched with the token into a Blob URL (an <audio> cannot send headers), when its row first
  // comes near the screen, so that a long book does not download every page at once.
  // A page still being voiced gets a "live" player (no token only): preload none, so nothing is asked
  // before play is pressed, and a note saying so. When the page completes at the same URL, a live
  // player in use (playing, paused part way, or focused) stays as it is, so playback goes on; one
  // never started is replaced by an ordinary player, which loads the finished file with ranges.

  var playerObserver = typeof IntersectionObserver === 'function'
    ? new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (!entry.isIntersecting) return;
        playerObserver.unobserve(entry.target);
        loadPlayerBlob(entry.target);
      });
    }, { rootMargin: '400px 0px' })
    : null;

  function renderPlayer(row, page, url, live) {
    var mode = storedToken() ? 'token' : 'plain';
    var audio = row.playerSlot.querySelector('audio');
    if (audio && audio.getAttribute('data-src') === url && audio.getAttribute('data-mode') === mode &&
        (live || !audio.hasAttribute('data-live') || playerInUse(audio))) {
      setPlayerLive(row, audio, page, live);
      return;
    }
    releasePlayer(row);
    var player = el('audio', {
      controls: true, preload: live ? 'none' : 'metadata', 'data-src': url, 'data-mode': mode,
    });
    if (mode === 'plain') {
      player.setAttribute('src', url);
      // Refused because the server now wants a token? Find out with a request that can see the 401.
      // (Not for a live player: its error is the attempt failing, and page_failed says so.)
      player.addEventListener('error', function () {
        if (player.probed || storedToken() || player.hasAttribute('data-live')) return;
        player.probed = true;
        authFetch(url, { method: 'HEAD' }).then(null, function () {});
      });
    }
    row.playerSlot.replaceChildren(player);
    setPlayerLive(row, player, page, live);
    if (mode === 'token') {
      if (playerObserver) playerObserver.observe(player);
      else loadPlayerBlob(player);
    }
  }

  /** Started, or in the user's hands: replacing it would cut off what they are listening to. */
  function playerInUse(audio) {
    return !audio.paused || audio.currentTime > 0 || audio.readyState > 0 || document.activeElement === audio;
  }

  /** Marks a player live (with its note) or not, leaving the element and its playback alone. */
  function setPlayerLive(row, audio, page, live) {
    var label = 'Page ' + page.page_number + ' audio';
    var note = row.playerSlot.querySelector('.page-live');
    if (live) {
      audio.setAttribute('data-live', '');
      audio.setAttribute('aria-label', label + ' (still being voiced)');
      if (!note) {
        var id = 'page-live-' + row.bookId + '-' + page.page_number;
        note = el('p', { class: 'page-live', id: id },
          el('span', { class: 'page-live-dot', 'aria-hidden': 'true' }), ' ',
          'Playing while it is made: this page is still being voiced.');
        row.playerSlot.appendChild(note);
      }
      audio.setAttribute('aria-describedby', note.id);
    } else {
      if (audio.hasAttribute('data-live')) {
        audio.removeAttribute('data-live');
        audio.removeAttribute('aria-describedby');
        audio.preload = 'metadata';
      }
      audio.setAttribute('aria-label', label);
      if (note) note.remove();
    }
  }

  function loadPlayerBlob(player) {
    if (player.blobLoading || player.blobUrl) return;
    player.blobLoading = true;
    var url = player.getAttribute('data-src');
    authFetch(url).then(function (response) {
      if (!response.ok) throw new Error('HTTP ' + response.status);
      return response.blob();
    }).then(function (blob) {
      player.blobLoading = false;
      if (!player.isConnected || player.getAttribute('data-src') !== url) return;
      player.blobUrl = URL.createObjectURL(blob);
      player.src = player.blobUrl;
    }, function (error) {
      player.blobLoading = false;
      player.title = 'Could not load the audio: ' + error.message;
      // Try again the next time the row comes into view.
      if (player.isConnected && playerObserver) playerObserver.observe(player);
    });
  }

  function releasePlayer(row) {
    var audio = row.playerSlot.querySelector('audio');
    if (!audio) return;
    if (playerObserver) playerObserver.unobserve(audio);
    if (audio.blobUrl) URL.revokeObjectURL(audio.blobUrl);
    audio.blobUrl = null;
    audio.remove();
    var note = row.playerSlot.querySelector('.page-live');
    if (note) note.remove();
  }

  /** The token came or went: players switch between plain URLs and Blob URLs. */
  tokenListeners.push(function () {
    show(tokenButton, true);
    views.forEach(function (view) {
      view.pages.forEach(function (page) {
        if (page.audio_url || page.processing_status === 'processing') renderPage(view, page);
      });
    });
  });

  /** A whole-book download (MP3 or M4B): a plain link without a token, else fetched with it into a Blob. */
  function downloadBook(view, event, link, format) {
    // Without a token the browser follows an MP3 link itself; the M4B is made on first request
    // (409 while it is being made), so it is fetched here and asked for again until it is ready.
    if (!storedToken() && format !== 'm4b') return;
    event.preventDefault();
    if (link.downloading) return;
    link.downloading = true;
    var label = link.textContent;
    link.textContent = 'Preparing download…';
    link.setAttribute('aria-busy', 'true');
    var path = '/api/books/' + view.id + '/audio/' + (format === 'm4b' ? '?format=m4b' : '');
    var deadline = Date.now() + 5 * 60 * 1000;
    function fetchReady() {
      return authFetch(path).then(function (response) {
        if (response.status === 409 && Date.now() < deadline) {
          link.textContent = 'Making the ' + format.toUpperCase() + '…';
          return new Promise(function (resolve) { setTimeout(resolve, 2000); }).then(fetchReady);
        }
        return response;
      });
    }
    fetchReady().then(function (response) {
      if (!response.ok) {
        return response.text().then(function (text) {
          var body = parseJSON(text);
          throw new Error((body && body.message) || 'HTTP ' + response.status);
        });
      }
      return response.blob().then(function (blob) {
        var url = URL.createObjectURL(blob);
        var save = el('a', { href: url, download: 'book-' + view.id + '.' + format, hidden: true });
        document.body.appendChild(save);
        save.click();
        save.remove();
        setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
      });
    }).then(null, function (error) {
      setBookError(view, 'Download failed: ' + error.message);
    }).then(function () {
      link.downloading = false;
      link.textContent = label;
      link.removeAttribute('aria-busy');
    });
  }

  function retryBook(view) {
    setBookError(view, '');
    return api('/api/books/' + view.id + '/retry/', { method: 'POST' }).then(function (outcome) {
      view.eventsBroken = false;
      return refreshStatus(view).then(function () {
        if (outcome && outcome.requeued_pages === 0) {
          setBookError(view, 'No failed page could be queued again.');
        }
        follow(view);
        schedulePagesRefresh(view);
      });
    }).catch(function (error) { setBookError(view, 'Retry failed: ' + error.message); });
  }

  function deleteBook(view) {
    if (!window.confirm('Delete “' + view.title + '” with its pages and audio?')) return;
    view.deleteButton.disabled = true;
    api('/api/books/' + view.id + '/', { method: 'DELETE' }).then(function () {
      removeView(view);
    }, function (error) {
      view.deleteButton.disabled = false;
      if (error.status === 404) removeView(view);
      else setBookError(view, 'Delete failed: ' + error.message);
    });
  }

  function removeView(view) {
    stopFollowing(view);
    view.pages.forEach(function (page) { releasePlayer(page.row); });
    destroyBookPlayer(view);
    if (view.pagesTimer) clearTimeout(view.pagesTimer);
    views.delete(view.id);
    view.root.remove();
    show($('#books-empty'), views.size === 0);
  }

  function loadBooks() {
    return api('/api/books/').then(function (books) {
      show(booksError, false);
      var seen = new Set();
      (books || []).forEach(function (summary) {
        var id = Number(summary.id);
        seen.add(id);
        var view = ensureView(id);
        applySummary(view, summary);
        if (!view.status || !isSettled(view.status)) {
          refreshStatus(view).then(function () { follow(view); }, function () {});
        }
      });
      views.forEach(function (view) { if (!seen.has(view.id)) removeView(view); });
      show($('#books-empty'), views.size === 0);
    }, function (error) {
      booksError.textContent = 'Could not list the books: ' + error.message;
      show(booksError, true);
    });
  }

  $('#refresh-books').addEventListener('click', loadBooks);

  // MARK: Book player

  // One player per book, the main way to listen: it plays the book's voiced pages one after another
  // (pages without audio are skipped), with the page's text beside it, the sentence being spoken
  // highlighted. Two <audio> elements take turns: while one plays a page, the other has the next page
  // loaded, and on `ended` it starts at once, so that the change of page is not heard. The place is
  // kept on the server (PUT /api/books/{id}/position/) every few seconds while playing, on pause and on
  // leaving, and the player opens there (paused) when the page loads. With an API token each page's MP3
  // is fetched with it into a Blob URL, the current page and the next one only.

  var RATES = [0.75, 1, 1.25, 1.5, 1.75, 2];
  var RATE_KEY = 'lector.playbackRate';
  var SKIP_SECONDS = 15;
  var SAVE_EVERY_MS = 5000;
  var BOOK_PLAYER_REFRESH_MS = 1500;
  var USER_SCROLL_PAUSE_MS = 4000; // the text is not scrolled for the listener this long after they scrolled it
  var bookPlayers = new Set();
  var keysHint = $('#keys-hint'); // shown while some book has a player
  var lastBookPlayer = null;       // the one the keyboard and the media session act on
  var playbackRate = storedRate();

  function storedRate() {
    var value = NaN;
    try { value = Number(window.localStorage.getItem(RATE_KEY)); } catch (e) { /* private mode */ }
    return RATES.indexOf(value) >= 0 ? value : 1;
  }

  var SVG_NS = 'http://www.w3.org/2000/svg';
  var ICONS = {
    play: 'M8 5v14l11-7z',
    pause: 'M6 5h4v14H6zM14 5h4v14h-4z',
    previous: 'M6 6h2v12H6zM9.5 12l8.5 6V6z',
    next: 'M16 6h2v12h-2zM6 18l8.5-6L6 6z',
    back: 'M12 5V1L7 6l5 5V7c3.31 0 6 2.69 6 6s-2.69 6-6 6-6-2.69-6-6H4c0 4.42 3.58 8 8 8s8-3.58 8-8-3.58-8-8-8z',
  };

  function icon(name, mirrored) {
    var svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    svg.setAttribute('class', 'bp-icon');
    var path = document.createElementNS(SVG_NS, 'path');
    path.setAttribute('d', ICONS[name]);
    if (mirrored) path.setAttribute('transform', 'matrix(-1 0 0 1 24 0)');
    svg.appendChild(path);
    return svg;
  }

  var bookPlayerObserver = typeof IntersectionObserver === 'function'
    ? new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (!entry.isIntersecting || !entry.target.bookPlayer) return;
        bookPlayerObserver.unobserve(entry.target);
        loadBookPlayer(entry.target.bookPlayer);
      });
    }, { rootMargin: '300px 0px' })
    : null;

  /** The book's player, made (and loaded when it comes near the screen) once a page has audio. */
  function ensureBookPlayer(view) {
    if (view.player) return view.player;
    var p = {
      view: view, alive: true, loaded: false, loading: false, author: null,
      pages: [], byNumber: new Map(), playable: [], exact: new Map(), starts: new Map(), total: 0,
      chapters: [], current: 0, pendingSeconds: 0, active: 0, state: 'loading',
      touched: false, waiting: false, pendingPlay: false, sentences: [], sentence: -1, textKey: null,
      blobs: new Map(), seq: 0, savedKey: null, lastSaveAt: 0, saving: null, saveAgain: false,
      refreshTimer: null, userScrollAt: 0, dragging: false, positionStateAt: 0, sessionKey: null,
    };
    var uid = 'bp-' + view.id;
    p.where = el('span', { class: 'bp-where' }, 'Book player');
    p.chapterNow = el('span', { class: 'bp-chapter-now' });
    p.status = el('span', { class: 'bp-status hint' }, 'Loading…');
    p.prevButton = el('button', { type: 'button', class: 'bp-prev', 'aria-label': 'Previous page', title: 'Previous page' },
      icon('previous'));
    p.backButton = el('button', {
      type: 'button', class: 'bp-back', 'aria-label': 'Back 15 seconds', title: 'Back 15 seconds (Left arrow)',
    }, icon('back'), el('span', { class: 'bp-skip', 'aria-hidden': 'true' }, '15'));
    p.playButton = el('button', { type: 'button', class: 'bp-play', 'aria-label': 'Play', title: 'Play (space)' },
      icon('play'));
    p.forwardButton = el('button', {
      type: 'button', class: 'bp-forward', 'aria-label': 'Forward 15 seconds', title: 'Forward 15 seconds (Right arrow)',
    }, el('span', { class: 'bp-skip', 'aria-hidden': 'true' }, '15'), icon('back', true));
    p.nextButton = el('button', { type: 'button', class: 'bp-next', 'aria-label': 'Next page', title: 'Next page' },
      icon('next'));
    p.rateSelect = el('select', { class: 'bp-rate', id: uid + '-rate', title: 'Speed ([ slower, ] faster)' });
    RATES.forEach(function (rate) {
      p.rateSelect.appendChild(el('option', { value: String(rate) }, rate + '×'));
    });
    p.rateSelect.value = String(playbackRate);
    p.seek = el('input', {
      type: 'range', class: 'bp-seek', min: 0, max: 0, step: 1, value: 0, disabled: true,
      'aria-label': 'Position in the book', 'aria-valuetext': '0:00 of 0:00',
    });
    p.time = el('span', { class: 'bp-time' }, '0:00 / 0:00');
    p.textBox = el('div', { class: 'bp-text', role: 'region', 'aria-label': 'Page text', hidden: true });
    p.chapterList = el('ol', { class: 'bp-chapter-list' });
    p.chapterDetails = el('details', { class: 'bp-chapters', hidden: true },
      el('summary', null, 'Chapters'), p.chapterList);
    p.errorNode = el('p', { class: 'bp-error error', role: 'alert', hidden: true });
    p.audios = [0, 1].map(function (slot) {
      var audio = el('audio', { class: 'bp-audio', preload: 'none', 'data-slot': slot });
      audio.bookPlayer = p;
      audio.pageNumber = 0;
      return audio;
    });
    p.root = el('div', { class: 'bp', role: 'group', 'aria-label': 'Book player', 'data-state': 'loading' },
      el('p', { class: 'bp-now' }, p.where, p.chapterNow, p.status),
      el('div', { class: 'bp-controls' }, p.prevButton, p.backButton, p.playButton, p.forwardButton, p.nextButton),
      el('div', { class: 'bp-progress' }, p.seek),
      el('div', { class: 'bp-line' }, p.time,
        el('span', { class: 'bp-speed' }, el('label', { for: uid + '-rate' }, 'Speed'), p.rateSelect)),
      p.errorNode,
      p.textBox,
      p.chapterDetails,
      p.audios[0], p.audios[1]);
    p.root.bookPlayer = p;
    setControlsEnabled(p, false);

    p.playButton.addEventListener('click', function () { togglePlay(p); });
    p.prevButton.addEventListener('click', function () { stepPage(p, -1); });
    p.nextButton.addEventListener('click', function () { stepPage(p, 1); });
    p.backButton.addEventListener('click', function () { skip(p, -SKIP_SECONDS); });
    p.forwardButton.addEventListener('click', function () { skip(p, SKIP_SECONDS); });
    p.rateSelect.addEventListener('change', function () { setRate(Number(p.rateSelect.value)); lastBookPlayer = p; });
    p.seek.addEventListener('pointerdown', function () { p.dragging = true; });
    p.seek.addEventListener('input', function () {
      p.dragging = true;
      showTime(p, Number(p.seek.value));
    });
    p.seek.addEventListener('change', function () {
      p.dragging = false;
      seekBook(p, Number(p.seek.value), isPlaying(p));
    });
    p.seek.addEventListener('blur', function () { p.dragging = false; });
    p.textBox.addEventListener('click', function (event) {
      var span = event.target.closest && event.target.closest('.bp-sentence');
      if (span) seekSentence(p, span);
    });
    p.textBox.addEventListener('keydown', function (event) { sentenceKey(p, event); });
    ['wheel', 'touchstart'].forEach(function (name) {
      p.textBox.addEventListener(name, function () { p.userScrollAt = Date.now(); }, { passive: true });
    });
    p.chapterList.addEventListener('click', function (event) {
      var button = event.target.closest && event.target.closest('.bp-chapter-jump');
      if (button) jumpToChapter(p, Number(button.getAttribute('data-page')));
    });
    p.audios.forEach(function (audio) { wireBookAudio(p, audio); });

    view.player = p;
    bookPlayers.add(p);
    if (keysHint) show(keysHint, true);
    view.root.insertBefore(p.root, view.actions);
    if (bookPlayerObserver) bookPlayerObserver.observe(p.root);
    else loadBookPlayer(p);
    return p;
  }

  function destroyBookPlayer(view) {
    var p = view.player;
    if (!p) return;
    view.player = null;
    p.alive = false;
    p.seq++;
    if (p.refreshTimer) clearTimeout(p.refreshTimer);
    if (bookPlayerObserver) bookPlayerObserver.unobserve(p.root);
    p.audios.forEach(function (audio) {
      audio.pause();
      audio.removeAttribute('src');
      audio.load();
    });
    p.blobs.forEach(function (entry) { if (entry.url) URL.revokeObjectURL(entry.url); });
    p.blobs.clear();
    bookPlayers.delete(p);
    if (keysHint) show(keysHint, bookPlayers.size > 0);
    if (lastBookPlayer === p) {
      lastBookPlayer = null;
      clearMediaSession();
    }
  }

  function setControlsEnabled(p, enabled) {
    [p.playButton, p.backButton, p.forwardButton, p.seek].forEach(function (control) { control.disabled = !enabled; });
    p.prevButton.disabled = !enabled || !neighbour(p, -1);
    p.nextButton.disabled = !enabled || !neighbour(p, 1);
  }

  /** Every page of the book, following `next_offset` as loadPages does. */
  function fetchAllPages(id) {
    var all = [];
    function batch(offset) {
      return api('/api/books/' + id + '/pages/?offset=' + offset + '&limit=' + PAGES_LIMIT).then(function (data) {
        var pages = data.pages || [];
        all = all.concat(pages);
        var next = typeof data.next_offset === 'number' ? data.next_offset : null;
        if (!Object.prototype.hasOwnProperty.call(data, 'next_offset')) {
          next = pages.length > 0 && pages.length >= (data.limit || PAGES_LIMIT) ? offset + pages.length : null;
        }
        return next !== null && next > offset ? batch(next) : all;
      });
    }
    return batch(0);
  }

  function loadBookPlayer(p) {
    if (!p.alive || p.loaded || p.loading) return;
    p.loading = true;
    setStatus(p, 'loading', 'Loading…');
    var id = p.view.id;
    Promise.all([
      api('/api/books/' + id + '/').then(null, function () { return null; }), // an older server: no chapters
      fetchAllPages(id),
      api('/api/books/' + id + '/position/').then(null, function () { return null; }),
    ]).then(function (results) {
      p.loading = false;
      if (!p.alive) return;
      p.loaded = true;
      applyBookDetail(p, results[0]);
      applyBookPages(p, results[1]);
      restorePosition(p, results[2]);
      if (p.refreshAgain) {
        p.refreshAgain = false;
        scheduleBookPlayerRefresh(p);
      }
    }, function (error) {
      p.loading = false;
      if (!p.alive) return;
      setStatus(p, 'error', '');
      showBookPlayerError(p, 'Could not load the book for listening: ' + error.message);
      // Tried again when the card next comes into view.
      if (bookPlayerObserver) setTimeout(function () { if (p.alive) bookPlayerObserver.observe(p.root); }, 5000);
    });
  }

  function scheduleBookPlayerRefresh(p) {
    if (p.loading) p.refreshAgain = true; // the list being loaded may be older than the change
    if (!p.loaded || p.refreshTimer) return;
    p.refreshTimer = setTimeout(function () {
      p.refreshTimer = null;
      if (!p.alive) return;
      fetchAllPages(p.view.id).then(function (pages) {
        if (p.alive) applyBookPages(p, pages);
      }, function () { /* the next change tries again */ });
    }, BOOK_PLAYER_REFRESH_MS);
  }

  function showBookPlayerError(p, text) {
    p.errorNode.textContent = text || '';
    show(p.errorNode, !!text);
  }

  function setStatus(p, state, text) {
    p.state = state;
    p.root.setAttribute('data-state', state);
    if (text !== undefined) p.status.textContent = text;
    var playing = state === 'playing';
    p.playButton.setAttribute('aria-label', playing ? 'Pause' : 'Play');
    p.playButton.title = (playing ? 'Pause' : 'Play') + ' (space)';
    p.playButton.replaceChildren(icon(playing ? 'pause' : 'play'));
    if ('mediaSession' in navigator && lastBookPlayer === p) {
      try { navigator.mediaSession.playbackState = playing ? 'playing' : 'paused'; } catch (e) { /* old browser */ }
    }
  }

  function applyBookDetail(p, detail) {
    if (!detail) return;
    p.author = detail.author || null;
    p.chapters = (Array.isArray(detail.chapters) ? detail.chapters : []).filter(function (chapter) {
      return chapter && typeof chapter.page === 'number' && chapter.page >= 1;
    });
    p.chapterList.replaceChildren.apply(p.chapterList, p.chapters.map(function (chapter) {
      return el('li', null, el('button', { type: 'button', class: 'bp-chapter-jump', 'data-page': chapter.page },
        el('span', { class: 'bp-chapter-title' }, chapter.title || 'Page ' + chapter.page),
        el('span', { class: 'bp-chapter-page hint' }, 'page ' + chapter.page)));
    }));
    p.chapterDetails.querySelector('summary').textContent = 'Chapters (' + p.chapters.length + ')';
    show(p.chapterDetails, p.chapters.length > 0);
  }

  /** The page list (first load or a refresh): the playlist, the timeline, the current page's text. */
  function applyBookPages(p, pages) {
    p.pages = pages.slice().sort(function (a, b) { return a.page_number - b.page_number; });
    p.byNumber = new Map();
    p.pages.forEach(function (page) { p.byNumber.set(page.page_number, page); });
    p.playable = p.pages.filter(function (page) { return !!page.audio_url; })
      .map(function (page) { return page.page_number; });
    recalcTimeline(p);
    renderText(p);
    renderWhere(p);
    if (p.current) setControlsEnabled(p, true);
    else if (p.loaded && p.playable.length && p.state === 'empty') restorePosition(p, p.initialPosition);
    if (isPlaying(p)) preloadNext(p);
    if (p.waiting) {
      var next = neighbour(p, 1);
      if (next) goTo(p, next, 0, true);
      else if (!stillVoicing(p)) finishBook(p);
    }
  }

  /** A page's length: the loaded audio's own, else the API's (whole seconds), else its last sentence's end. */
  function pageLength(p, number) {
    if (p.exact.has(number)) return p.exact.get(number);
    var page = p.byNumber.get(number);
    if (!page) return 0;
    if (typeof page.audio_duration === 'number' && page.audio_duration > 0) return page.audio_duration;
    var segments = Array.isArray(page.segments) ? page.segments : [];
    return segments.length ? Number(segments[segments.length - 1].end) || 0 : 0;
  }

  function recalcTimeline(p) {
    var at = 0;
    p.starts = new Map();
    p.playable.forEach(function (number) {
      p.starts.set(number, at);
      at += pageLength(p, number);
    });
    p.total = at;
    p.seek.max = String(Math.max(1, Math.ceil(at)));
    showTime(p);
  }

  function activeAudio(p) { return p.audios[p.active]; }
  function spareAudio(p) { return p.audios[1 - p.active]; }
  function isPlaying(p) { var audio = activeAudio(p); return p.pendingPlay || (!audio.paused && !audio.ended); }

  /** Seconds into the current page. */
  function pageSeconds(p) {
    var audio = activeAudio(p);
    return audio.pageNumber === p.current && audio.readyState > 0 ? audio.currentTime : p.pendingSeconds;
  }

  function bookSeconds(p) { return (p.starts.get(p.current) || 0) + pageSeconds(p); }

  /** The playable page before (-1) or after (+1) the current one, or 0. */
  function neighbour(p, direction, from) {
    var number = from === undefined ? p.current : from;
    var found = 0;
    for (var i = 0; i < p.playable.length; i++) {
      var candidate = p.playable[i];
      if (direction > 0 && candidate > number) return candidate;
      if (direction < 0 && candidate < number) found = candidate;
    }
    return direction < 0 ? found : 0;
  }

  /** Some page after the current one is still to be voiced (a book being made). */
  function stillVoicing(p) {
    return p.pages.some(function (page) {
      return page.page_number > p.current && !page.audio_url &&
        (page.processing_status === 'pending' || page.processing_status === 'processing');
    });
  }

  function currentChapter(p) {
    var found = null;
    p.chapters.forEach(function (chapter) { if (chapter.page <= p.current) found = chapter; });
    return found;
  }

  function renderWhere(p) {
    var total = p.view.status ? p.view.status.total_pages : p.pages.length;
    p.where.textContent = p.current ? 'Page ' + p.current + ' of ' + total : 'Book player';
    p.root.setAttribute('data-page', String(p.current || ''));
    var chapter = currentChapter(p);
    p.chapterNow.textContent = chapter ? chapter.title : '';
    show(p.chapterNow, !!chapter);
    Array.prototype.forEach.call(p.chapterList.querySelectorAll('.bp-chapter-jump'), function (button) {
      if (chapter && Number(button.getAttribute('data-page')) === chapter.page) button.setAttribute('aria-current', 'true');
      else button.removeAttribute('aria-current');
    });
    p.textBox.setAttribute('aria-label', p.current ? 'Text of page ' + p.current : 'Page text');
    p.root.setAttribute('aria-label', 'Book player: ' + p.view.title);
    if (p.current) setControlsEnabled(p, true);
    updateMediaSession(p);
  }

  /** The time line and the range: listened / total, over the whole book. */
  function showTime(p, at) {
    var seconds = at === undefined ? bookSeconds(p) : at;
    seconds = Math.max(0, Math.min(seconds, p.total));
    var text = formatDuration(seconds) + ' / ' + formatDuration(p.total);
    if (p.time.textContent !== text) p.time.textContent = text;
    if (at === undefined && !p.dragging) p.seek.value = String(Math.floor(seconds));
    p.seek.setAttribute('aria-valuetext', formatDuration(seconds) + ' of ' + formatDuration(p.total));
  }

  // Sources: the URL itself, or with a token a Blob URL of the MP3 fetched with it (kept for the pages
  // the two elements hold, released for the others).

  function pageSource(p, number) {
    var page = p.byNumber.get(number);
    var url = page && page.audio_url;
    if (!url) return Promise.reject(new Error('page ' + number + ' has no audio'));
    if (!storedToken()) return Promise.resolve(url);
    var entry = p.blobs.get(url);
    if (!entry) {
      entry = { url: null, promise: null };
      p.blobs.set(url, entry);
      entry.promise = authFetch(url).then(function (response) {
        if (!response.ok) throw new Error('HTTP ' + response.status + ' for page ' + number + "'s audio");
        return response.blob();
      }).then(function (blob) {
        if (p.blobs.get(url) !== entry) throw new Error('released');
        entry.url = URL.createObjectURL(blob);
        return entry.url;
      }, function (error) {
        if (p.blobs.get(url) === entry) p.blobs.delete(url);
        throw error;
      });
    }
    return entry.promise;
  }

  /** Releases the Blob URLs of pages neither element holds nor will play next. */
  function pruneBlobs(p) {
    var keep = new Set();
    [p.current, neighbour(p, 1)].concat(p.audios.map(function (audio) { return audio.pageNumber; }))
      .forEach(function (number) {
        var page = p.byNumber.get(number);
        if (page && page.audio_url) keep.add(page.audio_url);
      });
    p.blobs.forEach(function (entry, url) {
      if (keep.has(url)) return;
      p.blobs.delete(url);
      if (entry.url) URL.revokeObjectURL(entry.url);
    });
  }

  /** `preload`: 'auto' for a page about to play, 'metadata' for the place the player opens at. */
  function setSource(p, audio, number, source, preload) {
    if (preload === 'auto') audio.preload = 'auto';
    if (audio.pageNumber === number && audio.getAttribute('src') === source) {
      if (audio.error) audio.load(); // tried again
      return;
    }
    audio.pageNumber = number;
    audio.setAttribute('data-page', String(number));
    audio.preload = preload || 'auto';
    audio.setAttribute('src', source);
    applyRate(audio);
  }

  function whenMetadata(audio) {
    if (audio.readyState > 0) return Promise.resolve();
    if (audio.error) return Promise.reject(new Error('the audio could not be loaded'));
    return new Promise(function (resolve, reject) {
      function done(event) {
        audio.removeEventListener('loadedmetadata', done);
        audio.removeEventListener('error', done);
        if (event.type === 'error') reject(new Error('the audio could not be loaded'));
        else resolve();
      }
      audio.addEventListener('loadedmetadata', done);
      audio.addEventListener('error', done);
    });
  }

  function markActive(p) {
    p.audios.forEach(function (audio, slot) {
      if (slot === p.active) audio.setAttribute('data-active', '');
      else audio.removeAttribute('data-active');
    });
  }

  /**
   * Moves to `number` at `seconds` and plays when `play`. The page the spare element has loaded (the
   * next one, as a rule) is taken from it at once; any other is loaded into the active element.
   */
  function goTo(p, number, seconds, play) {
    if (!p.alive || !number) return Promise.resolve();
    var seq = ++p.seq;
    p.waiting = false;
    p.pendingPlay = !!play;
    if (play) p.touched = true;
    var before = activeAudio(p);
    var spare = spareAudio(p);
    if (spare.pageNumber === number && spare.getAttribute('src') && !spare.error) {
      p.active = 1 - p.active;
      before.pause();
    } else if (before.pageNumber !== number) {
      before.pause();
    }
    markActive(p);
    var pageChanged = p.current !== number;
    p.current = number;
    p.pendingSeconds = Math.max(0, seconds || 0);
    if (pageChanged) {
      renderWhere(p);
      renderText(p);
    }
    showBookPlayerError(p, '');
    var audio = activeAudio(p);
    if (!play && p.state !== 'loading') setStatus(p, 'paused', 'Paused');
    return pageSource(p, number).then(function (source) {
      if (seq !== p.seq) return;
      setSource(p, audio, number, source, play ? 'auto' : 'metadata');
      return whenMetadata(audio).then(function () {
        if (seq !== p.seq) return;
        var target = Math.max(0, Math.min(p.pendingSeconds, Number.isFinite(audio.duration) ? audio.duration : p.pendingSeconds));
        if (Math.abs(audio.currentTime - target) > 0.05) audio.currentTime = target;
        p.pendingSeconds = target;
        showTime(p);
        updateHighlight(p);
        pruneBlobs(p);
        if (play) return startPlayback(p, audio, seq);
        if (p.touched) savePosition(p);
      });
    }).then(null, function (error) {
      if (seq !== p.seq || !p.alive) return;
      p.pendingPlay = false;
      setStatus(p, 'error', '');
      showBookPlayerError(p, 'Page ' + number + ' cannot be played: ' + error.message);
      if (!storedToken()) authFetch(p.byNumber.get(number).audio_url, { method: 'HEAD' }).then(null, function () {});
    });
  }

  function startPlayback(p, audio, seq) {
    audio.preload = 'auto';
    applyRate(audio);
    pauseOtherAudio(audio);
    lastBookPlayer = p;
    return audio.play().then(function () {
      if (seq === p.seq) p.pendingPlay = false;
    }, function (error) {
      if (seq !== p.seq) return;
      p.pendingPlay = false;
      if (error && error.name === 'AbortError') return; // replaced by another source
      setStatus(p, 'paused', error && error.name === 'NotAllowedError' ? 'Press play to listen.' : 'Paused');
    });
  }

  /** Loads the next page into the spare element, so that it starts without a gap. */
  function preloadNext(p) {
    var next = neighbour(p, 1);
    var spare = spareAudio(p);
    if (!next || spare.pageNumber === next) return;
    var seq = p.seq;
    pageSource(p, next).then(function (source) {
      if (!p.alive || seq !== p.seq || spareAudio(p) !== spare || neighbour(p, 1) !== next) return;
      spare.pause();
      setSource(p, spare, next, source, 'auto');
      pruneBlobs(p);
    }, function () { /* loaded when it is reached */ });
  }

  function wireBookAudio(p, audio) {
    audio.addEventListener('loadedmetadata', function () {
      applyRate(audio);
      if (Number.isFinite(audio.duration) && audio.duration > 0 && audio.pageNumber &&
          Math.abs((p.exact.get(audio.pageNumber) || 0) - audio.duration) > 0.01) {
        p.exact.set(audio.pageNumber, audio.duration);
        recalcTimeline(p);
      }
    });
    audio.addEventListener('timeupdate', function () {
      if (audio !== activeAudio(p) || audio.pageNumber !== p.current) return;
      p.pendingSeconds = audio.currentTime;
      showTime(p);
      updateHighlight(p);
      updatePositionState(p);
      if (!audio.paused && Date.now() - p.lastSaveAt >= SAVE_EVERY_MS) savePosition(p);
    });
    audio.addEventListener('playing', function () {
      if (audio !== activeAudio(p)) return;
      p.pendingPlay = false;
      lastBookPlayer = p;
      setStatus(p, 'playing', 'Playing');
      updateMediaSession(p);
      updatePositionState(p, true);
      preloadNext(p);
    });
    audio.addEventListener('pause', function () {
      if (audio !== activeAudio(p) || audio.ended || p.pendingPlay) return;
      setStatus(p, 'paused', 'Paused');
      updatePositionState(p, true);
      savePosition(p);
    });
    audio.addEventListener('ended', function () {
      if (audio !== activeAudio(p)) return;
      var next = neighbour(p, 1);
      if (next) goTo(p, next, 0, true);
      else if (stillVoicing(p)) {
        p.waiting = true;
        setStatus(p, 'waiting', 'Waiting for the next page to be voiced…');
        savePosition(p);
      } else finishBook(p);
    });
    audio.addEventListener('error', function () {
      if (audio !== activeAudio(p) || !audio.getAttribute('src') || !p.current) return;
      p.pendingPlay = false;
      setStatus(p, 'error', '');
      showBookPlayerError(p, 'Page ' + p.current + "'s audio could not be played.");
    });
  }

  function finishBook(p) {
    p.waiting = false;
    setStatus(p, 'ended', 'The end of the book.');
    savePosition(p);
  }

  function togglePlay(p) {
    if (!p.loaded || !p.current) return;
    lastBookPlayer = p;
    if (isPlaying(p)) {
      p.pendingPlay = false;
      activeAudio(p).pause();
      return;
    }
    if (p.state === 'waiting') { // stop waiting for the next page
      p.waiting = false;
      setStatus(p, 'paused', 'Paused');
      return;
    }
    if (p.state === 'ended') { goTo(p, p.playable[0], 0, true); return; }
    var audio = activeAudio(p);
    if (audio.pageNumber !== p.current || !audio.getAttribute('src') || p.state === 'error') {
      goTo(p, p.current, p.pendingSeconds, true);
      return;
    }
    p.touched = true;
    p.pendingPlay = true;
    startPlayback(p, audio, p.seq);
  }

  function stepPage(p, direction) {
    var target = neighbour(p, direction);
    if (!target) return;
    lastBookPlayer = p;
    p.touched = true;
    goTo(p, target, 0, isPlaying(p));
  }

  /** To a place in the whole book (seconds from its start). */
  function seekBook(p, seconds, play) {
    if (!p.playable.length) return;
    lastBookPlayer = p;
    p.touched = true;
    var at = Math.max(0, Math.min(seconds, p.total));
    var number = p.playable[p.playable.length - 1];
    for (var i = 0; i < p.playable.length; i++) {
      var candidate = p.playable[i];
      if (at < p.starts.get(candidate) + pageLength(p, candidate)) { number = candidate; break; }
    }
    var offset = Math.max(0, at - p.starts.get(number));
    var audio = activeAudio(p);
    if (number === p.current && audio.pageNumber === number && audio.readyState > 0) {
      audio.currentTime = Math.min(offset, audio.duration || offset);
      p.pendingSeconds = audio.currentTime;
      if (p.state === 'ended' || p.state === 'waiting') setStatus(p, 'paused', 'Paused');
      showTime(p);
      updateHighlight(p);
      updatePositionState(p, true);
      if (play && audio.paused) togglePlay(p);
      else if (!play) savePosition(p);
      return;
    }
    goTo(p, number, offset, play);
  }

  function skip(p, delta) {
    if (!p.loaded || !p.current) return;
    seekBook(p, bookSeconds(p) + delta, isPlaying(p));
  }

  function jumpToChapter(p, page) {
    var number = p.byNumber.get(page) && p.byNumber.get(page).audio_url ? page : neighbour(p, 1, page - 1);
    if (number) goTo(p, number, 0, true);
  }

  function setRate(rate) {
    if (RATES.indexOf(rate) < 0) return;
    playbackRate = rate;
    try { window.localStorage.setItem(RATE_KEY, String(rate)); } catch (e) { /* private mode */ }
    bookPlayers.forEach(function (p) {
      p.rateSelect.value = String(rate);
      p.audios.forEach(applyRate);
      updatePositionState(p, true);
    });
  }

  function stepRate(p, direction) {
    var index = RATES.indexOf(playbackRate);
    var next = RATES[Math.max(0, Math.min(RATES.length - 1, index + direction))];
    setRate(next);
    lastBookPlayer = p;
  }

  function applyRate(audio) {
    // Faster or slower speech at the same pitch.
    if ('preservesPitch' in audio) audio.preservesPitch = true;
    if ('webkitPreservesPitch' in audio) audio.webkitPreservesPitch = true;
    if ('mozPreservesPitch' in audio) audio.mozPreservesPitch = true;
    audio.defaultPlaybackRate = playbackRate;
    if (audio.playbackRate !== playbackRate) audio.playbackRate = playbackRate;
  }

  /** Only one thing plays at a time: a page's own player, or a book player. */
  function pauseOtherAudio(except) {
    Array.prototype.forEach.call(document.querySelectorAll('audio'), function (audio) {
      if (audio !== except && !audio.paused) audio.pause();
    });
  }

  document.addEventListener('play', function (event) {
    if (event.target && event.target.tagName === 'AUDIO') pauseOtherAudio(event.target);
  }, true);

  // Read-along: the page's text, its sentences (the API's segments) clickable, the spoken one marked
  // with aria-current (nothing is announced: no live region) and kept in view inside the text box.

  function renderText(p) {
    var page = p.byNumber.get(p.current);
    var text = page && typeof page.text_content === 'string' ? page.text_content : '';
    var segments = page && Array.isArray(page.segments) ? page.segments : null;
    var key = p.current + '\u0000' + text + '\u0000' + JSON.stringify(segments);
    if (key === p.textKey) return;
    p.textKey = key;
    p.sentences = [];
    p.sentence = -1;
    var box = p.textBox;
    box.replaceChildren();
    box.scrollTop = 0;
    show(box, !!page);
    if (!page) return;
    if (!text.trim()) {
      box.appendChild(el('span', { class: 'hint' }, '(no text on this page)'));
      box.removeAttribute('tabindex');
      return;
    }
    var ordered = (segments || []).filter(function (segment) {
      return segment && typeof segment.text_offset === 'number' && typeof segment.text_length === 'number' &&
        typeof segment.start === 'number';
    }).sort(function (a, b) { return a.text_offset - b.text_offset; });
    if (!ordered.length) {
      box.textContent = text;
      box.setAttribute('tabindex', '0'); // a scrolling box the keyboard can reach
      return;
    }
    var cursor = 0;
    ordered.forEach(function (segment) {
      var start = Math.max(cursor, segment.text_offset);
      var end = Math.min(text.length, segment.text_offset + segment.text_length);
      if (end <= start) return;
      if (start > cursor) box.appendChild(document.createTextNode(text.slice(cursor, start)));
      var span = el('span', {
        class: 'bp-sentence', role: 'button', tabindex: -1, 'data-index': p.sentences.length,
        'data-start': segment.start,
      }, text.slice(start, end));
      span.segment = segment;
      p.sentences.push(span);
      box.appendChild(span);
      cursor = end;
    });
    if (cursor < text.length) box.appendChild(document.createTextNode(text.slice(cursor)));
    box.removeAttribute('tabindex');
    if (p.sentences.length) p.sentences[0].tabIndex = 0;
    updateHighlight(p);
  }

  function updateHighlight(p) {
    if (!p.sentences.length) {
      p.root.removeAttribute('data-sentence');
      return;
    }
    var t = pageSeconds(p) + 0.05;
    var index = 0;
    for (var i = 0; i < p.sentences.length; i++) {
      if (p.sentences[i].segment.start <= t) index = i;
      else break;
    }
    if (index === p.sentence) return;
    var previous = p.sentences[p.sentence];
    if (previous) previous.removeAttribute('aria-current');
    p.sentence = index;
    var span = p.sentences[index];
    span.setAttribute('aria-current', 'true');
    p.root.setAttribute('data-sentence', String(index));
    // Tab lands on the sentence being read, unless the keyboard is already among the sentences.
    if (!p.textBox.contains(document.activeElement)) {
      p.sentences.forEach(function (other) { other.tabIndex = other === span ? 0 : -1; });
    }
    scrollSentence(p, span);
  }

  function scrollSentence(p, span) {
    if (Date.now() - p.userScrollAt < USER_SCROLL_PAUSE_MS) return;
    var box = p.textBox;
    if (box.scrollHeight <= box.clientHeight) return;
    var top = span.offsetTop;
    var bottom = top + span.offsetHeight;
    if (top >= box.scrollTop && bottom <= box.scrollTop + box.clientHeight) return;
    var reduce = window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches;
    var target = Math.max(0, top - box.clientHeight / 3);
    if (typeof box.scrollTo === 'function') box.scrollTo({ top: target, behavior: reduce ? 'auto' : 'smooth' });
    else box.scrollTop = target;
  }

  function seekSentence(p, span) {
    if (!span.segment) return;
    lastBookPlayer = p;
    p.touched = true;
    var audio = activeAudio(p);
    if (audio.pageNumber === p.current && audio.readyState > 0) {
      audio.currentTime = span.segment.start;
      p.pendingSeconds = audio.currentTime;
      showTime(p);
      updateHighlight(p);
      updatePositionState(p, true);
      if (audio.paused) savePosition(p);
    } else {
      goTo(p, p.current, span.segment.start, isPlaying(p));
    }
  }

  /** Up/Down (and Home/End) move among the sentences; Enter or space plays from the focused one. */
  function sentenceKey(p, event) {
    var span = event.target.closest && event.target.closest('.bp-sentence');
    if (!span || event.altKey || event.ctrlKey || event.metaKey) return;
    var index = Number(span.getAttribute('data-index'));
    var target = null;
    if (event.key === 'ArrowDown') target = p.sentences[index + 1];
    else if (event.key === 'ArrowUp') target = p.sentences[index - 1];
    else if (event.key === 'Home') target = p.sentences[0];
    else if (event.key === 'End') target = p.sentences[p.sentences.length - 1];
    else if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      seekSentence(p, span);
      return;
    } else return;
    event.preventDefault();
    if (!target) return;
    p.sentences.forEach(function (other) { other.tabIndex = other === target ? 0 : -1; });
    target.focus();
    p.userScrollAt = Date.now();
  }

  // The remembered place.

  function restorePosition(p, position) {
    p.initialPosition = position;
    var page = position && typeof position.page === 'number' ? position.page : 1;
    var seconds = position && typeof position.seconds === 'number' ? position.seconds : 0;
    var number = p.byNumber.get(page) && p.byNumber.get(page).audio_url ? page : neighbour(p, 1, page - 1);
    if (!number) {
      number = p.playable[0] || 0;
      seconds = 0;
    } else if (number !== page) seconds = 0;
    if (!number) {
      setStatus(p, 'empty', 'No page has audio yet.');
      return;
    }
    var saved = position && position.updated_at;
    p.savedKey = saved ? page + ':' + seconds : null;
    if (saved) p.savedAt = saved;
    setStatus(p, 'paused', saved ? 'Resuming where you left off' : 'Ready');
    goTo(p, number, seconds, false).then(function () {
      if (p.state === 'paused') {
        p.status.textContent = saved ? 'Resuming where you left off (' + timeAgo(saved) + ')' : 'Ready';
      }
    });
  }

  function savePosition(p, keepalive) {
    if (!p.alive || !p.loaded || !p.touched || !p.current) return;
    var seconds = pageSeconds(p);
    if (p.exact.has(p.current)) seconds = Math.min(seconds, p.exact.get(p.current));
    seconds = Math.max(0, Math.floor(seconds * 10) / 10);
    var page = p.current;
    var key = page + ':' + seconds;
    if (key === p.savedKey) return;
    if (p.saving && !keepalive) {
      p.saveAgain = true;
      return;
    }
    p.lastSaveAt = Date.now();
    var path = '/api/books/' + p.view.id + '/position/';
    function put(value) {
      return api(path, {
        method: 'PUT', headers: { 'Content-Type': 'application/json' }, keepalive: !!keepalive,
        body: JSON.stringify({ page: page, seconds: value }),
      });
    }
    var request = put(seconds).then(null, function (error) {
      // The server measures the page a little shorter: save its whole seconds instead.
      var known = p.byNumber.get(page) && p.byNumber.get(page).audio_duration;
      if (error.code === 'invalid_position' && typeof known === 'number' && seconds > known) return put(known);
      throw error;
    }).then(function (saved) {
      p.savedKey = key;
      if (saved && saved.updated_at) p.savedAt = saved.updated_at;
      if (p.saveFailed) {
        p.saveFailed = false;
        showBookPlayerError(p, '');
      }
    }, function (error) {
      if (!p.alive) return;
      if (error.status === 404) return; // the book is being deleted
      p.saveFailed = true;
      showBookPlayerError(p, 'Your place could not be saved: ' + error.message);
    }).then(function () {
      if (p.saving === request) p.saving = null;
      if (p.saveAgain) {
        p.saveAgain = false;
        savePosition(p);
      }
    });
    p.saving = request;
  }

  function saveAllPositions(keepalive) {
    bookPlayers.forEach(function (p) { savePosition(p, keepalive); });
  }

  window.addEventListener('pagehide', function () { saveAllPositions(true); });
  document.addEventListener('visibilitychange', function () {
    if (document.hidden) { saveAllPositions(true); return; }
    // Back on the page: a paused player follows a place saved elsewhere meanwhile (another browser).
    bookPlayers.forEach(function (p) {
      if (!p.loaded || isPlaying(p) || p.saving) return;
      api('/api/books/' + p.view.id + '/position/').then(function (position) {
        if (!p.alive || isPlaying(p) || !position || !position.updated_at || p.saveFailed) return;
        if (p.savedAt && Date.parse(position.updated_at) <= Date.parse(p.savedAt)) return; // ours, or older
        var key = position.page + ':' + position.seconds;
        if (key === p.savedKey) return;
        if (position.page === p.current && Math.abs(position.seconds - pageSeconds(p)) < 1) return;
        restorePosition(p, position);
      }, function () {});
    });
  });

  /** The token came or went: sources switch between plain URLs and Blob URLs. */
  tokenListeners.push(function () {
    bookPlayers.forEach(function (p) {
      if (!p.loaded || !p.current) return;
      var playing = isPlaying(p);
      var seconds = pageSeconds(p);
      p.audios.forEach(function (audio) {
        audio.pause();
        audio.removeAttribute('src');
        audio.pageNumber = 0;
        audio.load();
      });
      p.blobs.forEach(function (entry) { if (entry.url) URL.revokeObjectURL(entry.url); });
      p.blobs.clear();
      goTo(p, p.current, seconds, playing);
    });
  });

  // Media Session: the lock screen, the notification and a headset's buttons control the player
  // last used.

  function updateMediaSession(p) {
    if (!('mediaSession' in navigator) || lastBookPlayer !== p || !p.current) return;
    var chapter = currentChapter(p);
    var title = (chapter ? chapter.title + ' · ' : '') + 'Page ' + p.current;
    var key = title + '\u0000' + p.view.title;
    if (key === p.sessionKey) return;
    p.sessionKey = key;
    try {
      if (typeof MediaMetadata === 'function') {
        navigator.mediaSession.metadata = new MediaMetadata({
          title: title, artist: p.author || 'Lector', album: p.view.title,
        });
      }
    } catch (e) { /* not supported */ }
  }

  function updatePositionState(p, now) {
    if (!('mediaSession' in navigator) || typeof navigator.mediaSession.setPositionState !== 'function') return;
    if (lastBookPlayer !== p || !(p.total > 0)) return;
    if (!now && Date.now() - p.positionStateAt < 1000) return;
    p.positionStateAt = Date.now();
    try {
      navigator.mediaSession.setPositionState({
        duration: p.total, playbackRate: playbackRate, position: Math.max(0, Math.min(bookSeconds(p), p.total)),
      });
    } catch (e) { /* an inconsistent state is not worth an error */ }
  }

  function clearMediaSession() {
    if (!('mediaSession' in navigator)) return;
    try {
      navigator.mediaSession.metadata = null;
      navigator.mediaSession.playbackState = 'none';
    } catch (e) { /* not supported */ }
  }

  if ('mediaSession' in navigator) {
    var sessionActions = {
      play: function (p) { if (!isPlaying(p)) togglePlay(p); },
      pause: function (p) { if (isPlaying(p)) togglePlay(p); },
      stop: function (p) { if (isPlaying(p)) togglePlay(p); },
      previoustrack: function (p) { stepPage(p, -1); },
      nexttrack: function (p) { stepPage(p, 1); },
      seekbackward: function (p, details) { skip(p, -((details && details.seekOffset) || SKIP_SECONDS)); },
      seekforward: function (p, details) { skip(p, (details && details.seekOffset) || SKIP_SECONDS); },
      seekto: function (p, details) {
        if (details && typeof details.seekTime === 'number') seekBook(p, details.seekTime, isPlaying(p));
      },
    };
    Object.keys(sessionActions).forEach(function (action) {
      try {
        navigator.mediaSession.setActionHandler(action, function (details) {
          var p = lastBookPlayer && lastBookPlayer.alive ? lastBookPlayer : null;
          if (p && p.loaded) sessionActions[action](p, details);
        });
      } catch (e) { /* an action this browser does not know */ }
    });
  }

  // Keyboard: space plays or pauses, Left/Right go 15 s back or on, [ and ] change the speed. Keys
  // typed into a field, or that the focused control uses itself, are left to it.

  function keyTargetPlayer(target) {
    var card = target && target.closest ? target.closest('.book[data-book-id]') : null;
    var view = card ? views.get(Number(card.getAttribute('data-book-id'))) : null;
    if (view && view.player && view.player.loaded) return view.player;
    if (lastBookPlayer && lastBookPlayer.alive && lastBookPlayer.loaded) return lastBookPlayer;
    var first = null;
    Array.prototype.some.call(document.querySelectorAll('.bp'), function (root) {
      if (root.bookPlayer && root.bookPlayer.loaded) first = root.bookPlayer;
      return !!first;
    });
    return first;
  }

  var TEXT_INPUTS = /^(text|search|password|email|url|tel|number|date|time|datetime-local|month|week)$/i;

  function isTyping(target) {
    if (!target || !target.tagName) return false;
    if (target.isContentEditable) return true;
    var tag = target.tagName;
    if (tag === 'TEXTAREA' || tag === 'SELECT') return true;
    return tag === 'INPUT' && TEXT_INPUTS.test(target.type || 'text');
  }

  /** Space means something to this element itself (it presses, ticks or opens it). */
  function usesSpace(target) {
    if (!target || !target.closest || target === document.body) return false;
    if (target.tagName === 'INPUT' && target.type === 'range') return false; // a slider does nothing with it
    return isTyping(target) || !!target.closest(
      'button, a[href], summary, input, select, textarea, audio, video, [role="button"], [role="checkbox"], ' +
      '[role="radio"], [role="switch"], [role="menuitem"], [role="option"], [role="tab"], [contenteditable]');
  }

  /** Left/Right mean something to this element itself (a slider, a radio group, a field). */
  function usesArrows(target) {
    if (!target || !target.closest || target === document.body) return false;
    if (isTyping(target)) return true;
    if (target.tagName === 'INPUT' && /^(range|radio)$/i.test(target.type)) return true;
    return !!target.closest('audio, video, [role="slider"], [role="radio"], [role="tab"], [role="listbox"], ' +
      '[role="menu"], [role="grid"], [role="tree"]');
  }

  document.addEventListener('keydown', function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (tokenDialog && tokenDialog.open) return;
    var target = event.target;
    var key = event.key;
    if (key !== ' ' && key !== 'ArrowLeft' && key !== 'ArrowRight' && key !== '[' && key !== ']') return;
    if (key === ' ' && usesSpace(target)) return;
    if ((key === 'ArrowLeft' || key === 'ArrowRight') && usesArrows(target)) return;
    if ((key === '[' || key === ']') && isTyping(target)) return;
    var p = keyTargetPlayer(target);
    if (!p) return;
    event.preventDefault();
    if (key === ' ') { if (!event.repeat) togglePlay(p); }
    else if (key === 'ArrowLeft') skip(p, -SKIP_SECONDS);
    else if (key === 'ArrowRight') skip(p, SKIP_SECONDS);
    else if (key === '[') stepRate(p, -1);
    else stepRate(p, 1);
  });

  // MARK: Cluster

  var nodesList = $('#nodes');
  var clusterError = $('#cluster-error');
  var clusterName = $('#cluster-name');

  function renderCluster(data) {
    clusterName.textContent = data.cluster ? '“' + data.cluster + '”' : '';
    var nodes = (data.nodes || []).slice().sort(function (a, b) {
      var order = { gateway: 0, coordinator: 1, worker: 2 };
      var ra = order[a.role] === undefined ? 3 : order[a.role];
      var rb = order[b.role] === undefined ? 3 : order[b.role];
      return ra - rb || String(a.name).localeCompare(String(b.name));
    });
    nodesList.replaceChildren.apply(nodesList, nodes.map(function (node) {
      var state = el('span', { class: 'badge node-state state-' + node.state }, node.state);
      var job = node.role === 'worker'
        ? el('span', { class: 'node-job' }, node.current_job ? 'working on ' + node.current_job : 'idle')
        : null;
      return el('li', { class: 'node', 'data-node': node.name, 'data-role': node.role, 'data-state': node.state },
        el('div', { class: 'node-head' },
          el('span', { class: 'node-name' }, node.name),
          el('span', { class: 'badge node-role' }, node.role),
          state),
        el('div', { class: 'node-detail hint' },
          node.address + ' · ' + node.jobs_done + ' jobs done · heartbeat ' + timeAgo(node.last_heartbeat)),
        job);
    }));
  }

  function loadCluster() {
    var next = function () { setTimeout(loadCluster, CLUSTER_MS); };
    if (document.hidden) { next(); return; }
    api('/api/cluster/').then(function (data) {
      show(clusterError, false);
      renderCluster(data);
      voicesFollowCluster(data.nodes || []);
    }, function (error) {
      clusterError.textContent = 'Cluster unavailable: ' + error.message;
      show(clusterError, true);
      if (!voicesAsked) loadVoices();
    }).then(next);
  }

  loadBooks();
  loadCluster();
})();
