namespace AnomalyActors.Ingestion.Payload;

/// <summary>An MQTT topic filter ('+' one level, '#' the rest) matched against topic names.</summary>
public sealed class TopicFilter
{
    private readonly string[] _levels;

    public TopicFilter(string filter)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(filter);
        _levels = filter.Split('/');
        for (var i = 0; i < _levels.Length; i++)
        {
            var level = _levels[i];
            if (level == "#" && i != _levels.Length - 1)
            {
                throw new ArgumentException($"Topic filter '{filter}': '#' must be the last level.", nameof(filter));
            }

            if (level.Length > 1 && (level.Contains('#') || level.Contains('+')))
            {
                throw new ArgumentException($"Topic filter '{filter}': '+' and '#' must fill a whole level.", nameof(filter));
            }
        }

        Filter = filter;
    }

    public string Filter { get; }

    public bool Matches(string[] topicLevels)
    {
        for (var i = 0; i < _levels.Length; i++)
        {
            var level = _levels[i];
            if (level == "#")
            {
                return true;
            }

            if (i >= topicLevels.Length)
            {
                return false;
            }

            if (level != "+" && !string.Equals(level, topicLevels[i], StringComparison.Ordinal))
            {
                return false;
            }
        }

        return topicLevels.Length == _levels.Length;
    }

    public override string ToString() => Filter;
}
