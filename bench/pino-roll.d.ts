declare module "pino-roll" {
  const roll: (options: Record<string, unknown>) => Promise<NodeJS.WritableStream & { end(): void; once(event: "finish", cb: () => void): void }>;
  export default roll;
}
