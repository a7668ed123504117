// The visit's check-in: the phone's position into the form (typed in by hand where there is none).
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-locate]");
  if (!button || !navigator.geolocation) return;
  const form = button.closest("form");
  navigator.geolocation.getCurrentPosition((pos) => {
    form.querySelector("[name=latitude]").value = pos.coords.latitude.toFixed(6);
    form.querySelector("[name=longitude]").value = pos.coords.longitude.toFixed(6);
    form.querySelector("[name=accuracy_m]").value = Math.round(pos.coords.accuracy);
  });
});
