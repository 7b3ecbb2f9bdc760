/** /join: type a 9-digit webinar ID (dashes and spaces allowed) and go to its page. */
const form = document.querySelector<HTMLFormElement>('#join')!;
const input = document.querySelector<HTMLInputElement>('#webinar-id')!;
const error = document.querySelector<HTMLElement>('#error')!;

form.addEventListener('submit', (e) => {
  e.preventDefault();
  const digits = input.value.replace(/[\s-]/g, '');
  if (!/^[1-9]\d{8}$/.test(digits)) {
    error.textContent = 'A webinar ID has 9 digits, like 123-456-789.';
    return;
  }
  void fetch(`/w/${digits}/info.json`).then((response) => {
    if (response.status === 404)
      error.textContent = 'We could not find a webinar with that ID. Check it and try again.';
    else location.href = `/w/${digits}`;
  });
});
