// The web-call page: microphone → AudioWorklet → 20 ms 16 kHz PCM16 frames over the socket; bot audio → a
// playback AudioWorklet that drops its queue on `clear` and reports marks as they are played. See PROTOCOL.md.
const RATE = 16000;
const $ = (id) => document.getElementById(id);

// Read by tests and handy in the console: what this page has sent and played.
const stats = { state: 'idle', callId: null, endedReason: null, framesSent: 0, playedSamples: 0, marksPlayed: 0, clears: 0, contextRate: null, error: null };
window.parleyStats = stats;

let call = null;

// The token travels in the fragment only (#token=…), which no request carries to a server or a proxy; one put in the
// query string is not read (it has already gone to the server and any proxy on the way).
function tokenFromLocation() {
  return new URLSearchParams(location.hash.slice(1)).get('token') || '';
}

function setStatus(text) {
  $('status').textContent = text;
}

function setInCall(inCall) {
  const button = $('call-button');
  button.textContent = inCall ? 'Hang up' : 'Start call';
  $('text-input').disabled = !inCall;
  $('text-send').disabled = !inCall;
  $('token').disabled = inCall;
}

let interimItem = null;
function showTranscript(role, text, final) {
  const list = $('transcript');
  let item = role === 'caller' ? interimItem : null;
  if (!item) {
    item = document.createElement('li');
    const who = document.createElement('span');
    who.className = 'role';
    who.textContent = role === 'caller' ? 'You: ' : 'Bot: ';
    item.append(who, document.createElement('span'));
    list.append(item);
  }
  item.lastChild.textContent = text;
  item.classList.toggle('interim', !final);
  interimItem = role === 'caller' && !final ? item : null;
}

function showLatency(turn, latency) {
  const row = document.createElement('tr');
  const cell = (v) => {
    const td = document.createElement(row.children.length === 0 ? 'th' : 'td');
    if (row.children.length === 0) td.scope = 'row';
    td.textContent = v === null || v === undefined ? '–' : String(Math.round(v));
    row.append(td);
  };
  cell(turn);
  cell(latency.totalMs ?? latency.responseMs);
  cell(latency.endpointMs);
  cell(latency.llmFirstTokenMs);
  cell(latency.ttsFirstAudioMs);
  $('latency').tBodies[0].append(row);
}

async function openAudio() {
  const stream = await navigator.mediaDevices.getUserMedia({
    // Echo cancellation keeps the bot from hearing itself; noise suppression and gain control are off because they
    // hurt recognition (measured with pocketsphinx in tests/e2e/web-call-browser.test.ts: WER 0.6 with them on).
    audio: { channelCount: 1, echoCancellation: true, noiseSuppression: false, autoGainControl: false },
  });
  let ctx;
  let source;
  try {
    ctx = new AudioContext({ sampleRate: RATE, latencyHint: 'interactive' });
    source = ctx.createMediaStreamSource(stream);
  } catch {
    // Some browsers refuse a microphone in a context at another rate: run at the device rate and resample.
    if (ctx) void ctx.close();
    ctx = new AudioContext({ latencyHint: 'interactive' });
    source = ctx.createMediaStreamSource(stream);
  }
  await ctx.audioWorklet.addModule('/call-assets/capture-worklet.js');
  await ctx.audioWorklet.addModule('/call-assets/playback-worklet.js');
  const capture = new AudioWorkletNode(ctx, 'parley-capture', { numberOfOutputs: 0, processorOptions: { targetRate: RATE } });
  const playback = new AudioWorkletNode(ctx, 'parley-playback', { numberOfInputs: 0, outputChannelCount: [1], processorOptions: { sourceRate: RATE } });
  source.connect(capture);
  playback.connect(ctx.destination);
  await ctx.resume();
  stats.contextRate = ctx.sampleRate;
  return { ctx, stream, source, capture, playback };
}

function socketUrl() {
  const u = new URL('/web-call/socket', location.href);
  u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.toString();
}

async function startCall() {
  const token = $('token').value.trim();
  if (!token) {
    setStatus('Paste a call token first.');
    $('token').focus();
    return;
  }
  setStatus('Asking for the microphone…');
  let audio;
  try {
    audio = await openAudio();
  } catch (err) {
    stats.error = String(err);
    setStatus(`Microphone unavailable: ${err.message || err}`);
    return;
  }
  const ws = new WebSocket(socketUrl());
  ws.binaryType = 'arraybuffer';
  const c = { ws, audio, ready: false, ended: false };
  call = c;
  setInCall(true);
  stats.state = 'connecting';
  setStatus('Connecting…');

  const send = (message) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  };
  c.send = send;

  audio.capture.port.onmessage = (event) => {
    if (!c.ready || ws.readyState !== WebSocket.OPEN) return;
    ws.send(event.data);
    stats.framesSent++;
  };
  audio.playback.port.onmessage = (event) => {
    const m = event.data;
    if (m.type === 'played') {
      stats.marksPlayed++;
      send({ type: 'mark-played', name: m.name });
    } else if (m.type === 'progress') {
      stats.playedSamples = m.playedSamples;
    }
  };

  ws.onopen = () => send({ type: 'start', token });
  ws.onmessage = (event) => {
    if (typeof event.data !== 'string') {
      audio.playback.port.postMessage({ type: 'audio', buffer: event.data }, [event.data]);
      return;
    }
    let m;
    try {
      m = JSON.parse(event.data);
    } catch {
      return;
    }
    switch (m.type) {
      case 'ready':
        c.ready = true;
        stats.state = 'in-call';
        stats.callId = m.call_id;
        setStatus('Connected. Speak when you are ready.');
        break;
      case 'mark':
        audio.playback.port.postMessage({ type: 'mark', name: m.name });
        break;
      case 'clear':
        stats.clears++;
        audio.playback.port.postMessage({ type: 'clear' });
        break;
      case 'transcript':
        showTranscript(m.role, m.text, m.final);
        break;
      case 'turn_latency':
        showLatency(m.turn, m.latency || {});
        break;
      case 'state':
        if (m.state !== 'ended') setStatus({ listening: 'Listening…', thinking: 'Thinking…', speaking: 'Speaking…' }[m.state] || m.state);
        break;
      case 'ended':
        stats.endedReason = m.reason;
        setStatus(`Call ended (${m.reason}).`);
        break;
      case 'error':
        stats.error = m.message;
        setStatus(`Could not start the call: ${m.message}`);
        break;
    }
  };
  ws.onclose = () => {
    teardown(c);
    if (!stats.endedReason && !stats.error) setStatus('Call ended.');
  };
}

function teardown(c) {
  if (c.ended) return;
  c.ended = true;
  stats.state = 'ended';
  c.audio.stream.getTracks().forEach((t) => t.stop());
  c.audio.source.disconnect();
  // Let queued playback finish before the context goes (the goodbye).
  setTimeout(() => void c.audio.ctx.close(), 3000);
  if (call === c) call = null;
  setInCall(false);
}

function hangUp() {
  const c = call;
  if (!c) return;
  c.send({ type: 'end' });
  setStatus('Hanging up…');
  setTimeout(() => {
    if (c.ws.readyState !== WebSocket.CLOSED) c.ws.close(1000, 'hang up');
  }, 2000);
  c.audio.playback.port.postMessage({ type: 'clear' });
}

function init() {
  if (!window.AudioWorkletNode || !navigator.mediaDevices) {
    const s = $('support');
    s.hidden = false;
    s.textContent = 'This browser cannot run web calls (it needs AudioWorklet and microphone access over HTTPS).';
  }
  $('token').value = tokenFromLocation();
  // Keep the token out of the address bar, history and screenshots (from the query string too, if one was put there).
  if (location.hash || location.search) history.replaceState(null, '', location.pathname);
  $('call-button').addEventListener('click', () => (call ? hangUp() : void startCall()));
  $('text-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = $('text-input');
    const text = input.value.trim();
    if (!call || !call.ready || !text) return;
    call.send({ type: 'text', text });
    input.value = '';
  });
}

init();
