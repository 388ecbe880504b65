//! Diagrams of a definition's flow: Graphviz DOT and Mermaid.
