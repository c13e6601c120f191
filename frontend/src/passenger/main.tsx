import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import "../common/styles.css";
import { PassengerApp } from "./PassengerApp";

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <PassengerApp />
    </StrictMode>,
  );
}
