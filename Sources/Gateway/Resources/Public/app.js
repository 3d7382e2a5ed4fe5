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

  /** Calls the JSON API; resolves with the envelope's `data`, rejects with its message. */
  function api(path, options) {
    return fetch(path, options).then(function (response) {
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
  function SSEParser(onEvent) {
    var buffer = '';
    var name = '';
    var data = [];
    var lastId = null;

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
      else if (field === 'id') lastId = value;
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
    form.append('file', file, file.name);
    setUploadProgress('Uploading ' + file.name + '…', null);

    return fetch('/api/books/upload/?stream=true', { method: 'POST', body: form }).then(function (response) {
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
    if (typeof EventSource === 'function' && !view.eventsBroken && openStreams() < MAX_STREAMS) startStream(view);
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

  function startStream(view) {
    var stream = new EventSource('/api/books/' + view.id + '/events/');
    view.stream = stream;
    var onStatus = function (event) { applyStatus(view, eventData(event)); };
    stream.addEventListener('status', onStatus);
    stream.addEventListener('progress', onStatus);
    stream.addEventListener('book_completed', function (event) {
      applyStatus(view, eventData(event));
      stopFollowing(view);
    });
    stream.addEventListener('book_deleted', function () {
      removeView(view);
    });
    stream.addEventListener('page_processing', function (event) {
      var data = eventData(event);
      updatePage(view, {
        page_number: data.page_number, processing_status: 'processing', worker: data.worker,
        attempt: data.attempt,
      });
    });
    stream.addEventListener('page_completed', function (event) {
      var data = eventData(event);
      updatePage(view, {
        page_number: data.page_number, processing_status: 'completed', audio_url: data.audio_url,
        audio_duration: data.audio_duration, voice: data.voice, text_source: data.text_source, worker: null,
        error: undefined,
      });
      schedulePagesRefresh(view);
    });
    stream.addEventListener('page_failed', function (event) {
      var data = eventData(event);
      // `will_retry: false` (or `final: true`) means the page has given up.
      var final = data.will_retry === undefined ? !!data.final : !data.will_retry;
      updatePage(view, {
        page_number: data.page_number, processing_status: final ? 'failed' : 'pending', worker: null,
        error: final ? data.error : 'Attempt ' + (data.attempt || '') + ' failed (' + data.error + '); trying again.',
      });
      schedulePagesRefresh(view);
    });
    stream.onopen = function () {
      if (view.stream === stream) stopPolling(view);
    };
    stream.onerror = function () {
      if (view.stream !== stream) return;
      if (stream.readyState === EventSource.CLOSED) {
        // Refused for good (no such endpoint, an error answer): poll instead.
        stream.close();
        view.stream = null;
        view.eventsBroken = true;
        startPolling(view);
        promoteWaiting();
      } else {
        // The browser reconnects by itself (with Last-Event-ID); poll meanwhile.
        startPolling(view);
      }
    };
  }

  function startPolling(view) {
    if (view.pollTimer) return;
    var tick = function () {
      view.pollTimer = setTimeout(function () {
        if (!views.has(view.id)) return;
        refreshStatus(view).then(null, function () {}).then(function () {
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
    api('/api/books/' + view.id + '/pages/').then(function (data) {
      show(view.pagesNote, false);
      (data.pages || []).forEach(function (page) { updatePage(view, page, true); });
      if (!data.pages || !data.pages.length) {
        view.pagesNote.textContent = 'This book has no pages.';
        show(view.pagesNote, true);
      }
    }, function (error) {
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

  function renderPage(view, page) {
    var row = page.row;
    var status = page.processing_status || 'pending';
    row.setAttribute('data-status', status);
    setBadge(row.badge, status);
    if (status === 'processing' && page.worker) {
      row.badge.textContent = 'processing on ' + page.worker + (page.attempt > 1 ? ' (attempt ' + page.attempt + ')' : '');
    }
    var voice = [];
    if (page.voice) voice.push('voice ' + page.voice);
    if (page.text_source && page.text_source !== 'pdf') voice.push('text: ' + page.text_source);
    row.voiceNode.textContent = voice.join(' · ');
    row.durationNode.textContent = page.audio_duration !== null && page.audio_duration !== undefined
      ? formatDuration(page.audio_duration) : '';

    var audio = row.playerSlot.querySelector('audio');
    if (page.audio_url) {
      if (!audio || audio.getAttribute('src') !== page.audio_url) {
        var player = el('audio', { controls: true, preload: 'metadata', src: page.audio_url });
        player.setAttribute('aria-label', 'Page ' + page.page_number + ' audio');
        row.playerSlot.replaceChildren(player);
      }
    } else {
      if (audio) audio.remove();
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
    }, function (error) {
      clusterError.textContent = 'Cluster unavailable: ' + error.message;
      show(clusterError, true);
    }).then(next);
  }

  loadBooks();
  loadCluster();
})();
