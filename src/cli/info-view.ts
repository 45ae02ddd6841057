export async function showInfo(options: { format?: string }): Promise<void> {
  void options;
  throw new Error('info: under construction');
}
