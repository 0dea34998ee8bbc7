"""What the dashboard and the CLI build on the engine: links, background jobs, hosted caps,
lesson presets, the Playground's single network, generated code and experiment comparison."""
