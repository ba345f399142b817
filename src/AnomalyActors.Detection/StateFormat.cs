namespace AnomalyActors.Detection;

internal static class StateFormat
{
    public static void ReadVersion(BinaryReader reader, byte expected, string kind)
    {
        var version = reader.ReadByte();
        if (version != expected)
        {
            throw new InvalidDataException(
                $"Unsupported {kind} detector state version {version}; this build reads version {expected}.");
        }
    }

    /// <summary>Reads the version byte; returns it when it is between the two, inclusive.</summary>
    public static byte ReadVersion(BinaryReader reader, byte oldest, byte newest, string kind)
    {
        var version = reader.ReadByte();
        if (version < oldest || version > newest)
        {
            throw new InvalidDataException(
                $"Unsupported {kind} detector state version {version}; this build reads versions {oldest} to {newest}.");
        }

        return version;
    }

    public static void Expect(long actual, long expected, string what, string kind)
    {
        if (actual != expected)
        {
            throw new InvalidDataException(
                $"The {kind} detector state has {what} {actual} but the options say {expected}.");
        }
    }
}
