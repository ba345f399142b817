namespace AnomalyActors.Detection.Tests.Likelihood;

internal static class StateBytes
{
    public static byte[] Of(Action<BinaryWriter> write)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            write(writer);
        }

        return stream.ToArray();
    }

    public static void Into(Action<BinaryReader> read, byte[] state)
    {
        using var reader = new BinaryReader(new MemoryStream(state));
        read(reader);
        if (reader.BaseStream.Position != reader.BaseStream.Length)
        {
            throw new InvalidOperationException("State not fully consumed.");
        }
    }
}
