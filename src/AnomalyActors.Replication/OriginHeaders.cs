using System.Globalization;
using System.Text;
using Confluent.Kafka;

namespace AnomalyActors.Replication;

/// <summary>Headers a replicated record carries: where it was first written.</summary>
public static class OriginHeaders
{
    public const string Site = "aa-origin-site";
    public const string Topic = "aa-source-topic";
    public const string Partition = "aa-source-partition";
    public const string Offset = "aa-source-offset";

    public static Headers For(string site, TopicPartitionOffset source, Headers? original)
    {
        var headers = new Headers();
        foreach (var header in original ?? [])
        {
            if (!header.Key.StartsWith("aa-source-", StringComparison.Ordinal) && header.Key != Site)
            {
                headers.Add(header.Key, header.GetValueBytes());
            }
        }

        headers.Add(Site, Encoding.UTF8.GetBytes(site));
        headers.Add(Topic, Encoding.UTF8.GetBytes(source.Topic));
        headers.Add(Partition, Encoding.UTF8.GetBytes(source.Partition.Value.ToString(CultureInfo.InvariantCulture)));
        headers.Add(Offset, Encoding.UTF8.GetBytes(source.Offset.Value.ToString(CultureInfo.InvariantCulture)));
        return headers;
    }

    public static string? Text(Headers? headers, string key) =>
        headers is not null && headers.TryGetLastBytes(key, out var bytes) ? Encoding.UTF8.GetString(bytes) : null;
}
