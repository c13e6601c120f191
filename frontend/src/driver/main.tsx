import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import "../common/styles.css";
import { DriverApp } from "./DriverApp";

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <DriverApp />
    </StrictMode>,
  );
}
