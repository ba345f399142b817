namespace AnomalyActors.Core.Protocol;

/// <summary>
/// Identity of one sensor stream. The key <c>site/device/metric</c> is the sharding entity id, the
/// persistence id suffix and the partitioning key, so the parts may not contain '/'.
/// </summary>
public sealed record StreamId
{
    public StreamId(string site, string device, string metric)
    {
        Site = CheckPart(site, nameof(site));
        Device = CheckPart(device, nameof(device));
        Metric = CheckPart(metric, nameof(metric));
        Key = string.Concat(Site, "/", Device, "/", Metric);
    }

    public string Site { get; }
    public string Device { get; }
    public string Metric { get; }
    public string Key { get; }

    public static StreamId Parse(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var parts = key.Split('/');
        if (parts.Length != 3)
        {
            throw new FormatException($"Stream key '{key}' is not of the form site/device/metric.");
        }

        return new StreamId(parts[0], parts[1], parts[2]);
    }

    public override string ToString() => Key;

    private static string CheckPart(string value, string name)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            throw new ArgumentException("A stream id part may not be empty.", name);
        }

        if (value.Contains('/'))
        {
            throw new ArgumentException($"A stream id part may not contain '/': '{value}'.", name);
        }

        return value;
    }
}
