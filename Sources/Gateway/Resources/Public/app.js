// Lector's web page: upload with live text-extraction progress, a live card per book (server-sent
// events, with polling as the fallback), each page's audio, and the cluster's nodes.
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
      'Download whole book');
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
      el('div', { class: 'book-actions' }, view.download, view.retryButton, view.deleteButton),
      view.errorNode,
      view.details);

    view.retryButton.addEventListener('click', function () { retryBook(view); });
    view.deleteButton.addEventListener('click', function () { deleteBook(view); });
    view.download.addEventListener('click', function (event) { downloadBook(view, event); });
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

  /** The whole-book download: a plain link without a token, else fetched with it into a Blob. */
  function downloadBook(view, event) {
    if (!storedToken()) return; // the browser follows the link
    event.preventDefault();
    if (view.downloading) return;
    view.downloading = true;
    var label = view.download.textContent;
    view.download.textContent = 'Preparing download…';
    view.download.setAttribute('aria-busy', 'true');
    authFetch('/api/books/' + view.id + '/audio/').then(function (response) {
      if (!response.ok) {
        return response.text().then(function (text) {
          var body = parseJSON(text);
          throw new Error((body && body.message) || 'HTTP ' + response.status);
        });
      }
      return response.blob().then(function (blob) {
        var url = URL.createObjectURL(blob);
        var link = el('a', { href: url, download: 'book-' + view.id + '.mp3', hidden: true });
        document.body.appendChild(link);
        link.click();
        link.remove();
        setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
      });
    }).then(null, function (error) {
      setBookError(view, 'Download failed: ' + error.message);
    }).then(function () {
      view.downloading = false;
      view.download.textContent = label;
      view.download.removeAttribute('aria-busy');
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
