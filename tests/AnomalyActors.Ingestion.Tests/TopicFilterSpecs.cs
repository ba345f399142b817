using AnomalyActors.Ingestion.Payload;
using Xunit;

namespace AnomalyActors.Ingestion.Tests;

public sealed class TopicFilterSpecs
{
    [Theory]
    [InlineData("sensors/#", "sensors/a/b/c", true)]
    [InlineData("sensors/#", "sensors", true)]
    [InlineData("sensors/+/dev-1/#", "sensors/s1/dev-1/demo", true)]
    [InlineData("sensors/+/dev-1/#", "sensors/s1/dev-2/demo", false)]
    [InlineData("sensors/+/+/demo", "sensors/s1/d/demo", true)]
    [InlineData("sensors/+/+/demo", "sensors/s1/d/demo/extra", false)]
    [InlineData("sensors/+/+/demo", "sensors/s1/demo", false)]
    [InlineData("#", "anything/at/all", true)]
    public void Should_match_like_mqtt(string filter, string topic, bool matches)
    {
        Assert.Equal(matches, new TopicFilter(filter).Matches(topic.Split('/')));
    }

    [Theory]
    [InlineData("sensors/#/x")]
    [InlineData("sensors/a+")]
    [InlineData("")]
    public void Should_refuse_malformed_filters(string filter)
    {
        Assert.ThrowsAny<ArgumentException>(() => new TopicFilter(filter));
    }
}
