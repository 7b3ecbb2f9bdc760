import { loadPageText } from './i18n.ts';

/** /join: type a 9-digit webinar ID (dashes and spaces allowed) and go to its page. */
const form = document.querySelector<HTMLFormElement>('#join')!;
const input = document.querySelector<HTMLInputElement>('#webinar-id')!;
const error = document.querySelector<HTMLElement>('#error')!;
const text = loadPageText();

form.addEventListener('submit', (e) => {
  e.preventDefault();
  const digits = input.value.replace(/[\s-]/g, '');
  void (async () => {
    const { t } = await text;
    if (!/^[1-9]\d{8}$/.test(digits)) {
      error.textContent = t('join.badId');
      return;
    }
    const response = await fetch(`/w/${digits}/info.json`);
    if (response.status === 404) error.textContent = t('join.notFound');
    else location.href = `/w/${digits}`;
  })();
});
