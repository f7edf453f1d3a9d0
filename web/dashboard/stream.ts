import { byId } from './dom.js';

/** Samples kept on the chart. */
const KEEP = 120;
/** Sample interval asked of `/stream` (ms). */
const INTERVAL_MS = 250;

interface Sample {
  timestamp: string;
  value: number;
}

function isSample(v: unknown): v is Sample {
  const s = v as Sample | null;
  return (
    typeof s === 'object' && s !== null && typeof s.value === 'number' && typeof s.timestamp === 'string'
  );
}

/**
 * The live chart of `/stream` (a plain WebSocket endpoint, as any client would use it): the
 * last samples as a line on a canvas, redrawn on each sample. Reconnects with backoff.
 */
export class StreamPanel {
  private socket: WebSocket | undefined;
  private readonly samples: number[] = [];
  private total = 0;
  private retryMs = 500;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private token: string | undefined;

  private readonly canvas = byId<HTMLCanvasElement>('stream-chart');
  private readonly value = byId('stream-value');
  private readonly count = byId('stream-count');
  private readonly state = byId('stream-state');

  constructor() {
    window.addEventListener('resize', () => this.draw());
  }

  start(token: string | undefined): void {
    this.stop();
    this.token = token;
    this.running = true;
    this.connect();
  }

  stop(): void {
    this.running = false;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const socket = this.socket;
    this.socket = undefined;
    if (socket) {
      socket.onclose = null;
      socket.close(1000);
    }
  }

  private connect(): void {
    const url = new URL(`/stream?interval=${INTERVAL_MS}`, location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    if (this.token) url.searchParams.set('access_token', this.token);
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.onopen = () => {
      this.retryMs = 500;
      this.state.textContent = 'live';
    };
    socket.onmessage = (event: MessageEvent) => {
      let sample: unknown;
      try {
        sample = JSON.parse(String(event.data));
      } catch {
        return;
      }
      if (isSample(sample)) this.add(sample);
    };
    socket.onclose = (event: CloseEvent) => {
      if (!this.running || socket !== this.socket) return;
      this.state.textContent = `disconnected (${event.code}); retrying in ${this.retryMs} ms…`;
      this.retryTimer = setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 10_000);
    };
  }

  private add(sample: Sample): void {
    this.samples.push(sample.value);
    if (this.samples.length > KEEP) this.samples.shift();
    this.total += 1;
    this.value.textContent = sample.value.toFixed(3);
    this.count.textContent = String(this.total);
    this.canvas.dataset.samples = String(this.samples.length);
    this.draw();
  }

  private draw(): void {
    const canvas = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(canvas.clientWidth * ratio));
    const height = Math.max(1, Math.round(canvas.clientHeight * ratio));
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    const g = canvas.getContext('2d');
    if (!g) return;
    const pad = 6 * ratio;
    const x = (i: number) => pad + (i / (KEEP - 1)) * (width - 2 * pad);
    const y = (v: number) => height - pad - Math.min(1, Math.max(0, v)) * (height - 2 * pad);
    g.clearRect(0, 0, width, height);
    g.strokeStyle = 'rgba(127,127,127,0.3)';
    g.lineWidth = 1;
    for (const level of [0, 0.5, 1]) {
      g.beginPath();
      g.moveTo(pad, y(level));
      g.lineTo(width - pad, y(level));
      g.stroke();
    }
    if (this.samples.length === 0) return;
    const offset = KEEP - this.samples.length;
    g.strokeStyle = '#0969da';
    g.lineWidth = 2 * ratio;
    g.beginPath();
    this.samples.forEach((v, i) => {
      if (i === 0) g.moveTo(x(offset + i), y(v));
      else g.lineTo(x(offset + i), y(v));
    });
    g.stroke();
    const last = this.samples.at(-1) ?? 0;
    g.fillStyle = '#0969da';
    g.beginPath();
    g.arc(x(KEEP - 1), y(last), 3.5 * ratio, 0, Math.PI * 2);
    g.fill();
  }
}
