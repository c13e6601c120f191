import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import "../common/styles.css";
import { SupportApp } from "./SupportApp";

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <SupportApp />
    </StrictMode>,
  );
}
