// Upload a video: pick a file, give it a title, watch the progress bar.

import { publish, session } from './api.js';
import { h, icon, topbar, toast } from './ui.js';

// The formats the server accepts (it judges the bytes, not the name), and
// the size limit it serves in the page (upload.max_bytes).
const FORMATS = 'MP4, M4V, MOV, WebM, MKV, AVI, FLV, 3GP or MPEG';
const maxBytes = Number(document.querySelector('meta[name="upload-max-bytes"]')?.content) || 0;

function size(n) {
  const mb = n / (1 << 20);
  return mb >= 1024 ? `${(mb / 1024).toFixed(1).replace(/\.0$/, '')} GB` : `${Math.max(1, Math.round(mb))} MB`;
}

export function uploadHint() {
  return `${FORMATS} videos${maxBytes ? `, up to ${size(maxBytes)}` : ''}.`;
}

export function uploadPage(root) {
  let job = null;
  let preview = '';

  const file = h('input', { id: 'video-file', name: 'data', type: 'file', accept: 'video/*', required: true });
  const title = h('input', {
    id: 'video-title', name: 'title', type: 'text', maxlength: 100, required: true, placeholder: 'Describe your video', autocomplete: 'off',
  });
  const counter = h('span', { class: 'muted counter', 'aria-hidden': 'true' }, '0/100');
  const video = h('video', { class: 'preview', muted: true, playsinline: true, controls: true, 'aria-label': 'Preview of the chosen video' });
  video.hidden = true;
  const progress = h('progress', { id: 'upload-progress', max: 100, value: 0, 'aria-label': 'Upload progress' });
  const percent = h('span', { class: 'percent', id: 'upload-percent' }, '0%');
  const progressRow = h('div', { class: 'progress-row' }, progress, percent);
  progressRow.hidden = true;
  const error = h('p', { class: 'form-error', role: 'alert', id: 'upload-error' });
  const submit = h('button', { type: 'submit', class: 'btn primary wide' }, icon('upload'), 'Publish');
  const cancel = h('button', { type: 'button', class: 'btn wide', hidden: true, onclick: () => job && job.xhr.abort() }, 'Cancel upload');

  const setProgress = (f) => {
    const pct = Math.min(100, Math.round(f * 100));
    progress.value = pct;
    percent.textContent = `${pct}%`;
  };

  file.addEventListener('change', () => {
    if (preview) URL.revokeObjectURL(preview);
    preview = '';
    const f = file.files[0];
    if (f) {
      preview = URL.createObjectURL(f);
      video.src = preview;
      video.hidden = false;
      if (!title.value) title.value = f.name.replace(/\.[^.]+$/, '').slice(0, 100);
      counter.textContent = `${title.value.length}/100`;
    } else {
      video.removeAttribute('src');
      video.hidden = true;
    }
  });
  title.addEventListener('input', () => {
    counter.textContent = `${title.value.length}/100`;
  });

  const form = h('form', {
    class: 'card upload-form',
    onsubmit: async (e) => {
      e.preventDefault();
      const f = file.files[0];
      if (!f) {
        error.textContent = 'Choose a video file first.';
        return;
      }
      if (maxBytes && f.size > maxBytes) {
        error.textContent = `This file is ${size(f.size)}; videos may be up to ${size(maxBytes)}.`;
        return;
      }
      error.textContent = '';
      setProgress(0);
      progressRow.hidden = false;
      submit.disabled = true;
      file.disabled = true;
      title.disabled = true;
      cancel.hidden = false;
      submit.lastChild.textContent = 'Uploading…';
      job = publish(f, title.value, setProgress);
      try {
        await job.done;
        setProgress(1);
        toast('Your video is published.');
        location.hash = `#/profile/${session.userId}`;
      } catch (err) {
        error.textContent = err.message;
        progressRow.hidden = err.code === 0;
        toast(err.message, err.code === 0 ? 'info' : 'error');
      } finally {
        job = null;
        submit.disabled = false;
        file.disabled = false;
        title.disabled = false;
        cancel.hidden = true;
        submit.lastChild.textContent = 'Publish';
      }
    },
  },
  h('label', { for: 'video-file' }, 'Video file'),
  file,
  video,
  h('div', { class: 'label-row' }, h('label', { for: 'video-title' }, 'Title'), counter),
  title,
  progressRow,
  error,
  submit,
  cancel);

  root.append(topbar('Upload', { back: '#/feed' }), h('div', { class: 'page-body' }, form,
    h('p', { class: 'muted hint', id: 'upload-hint' }, uploadHint())));

  return () => {
    if (job) job.xhr.abort();
    if (preview) URL.revokeObjectURL(preview);
  };
}
