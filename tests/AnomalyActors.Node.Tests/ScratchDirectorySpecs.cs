using AnomalyActors.Testing;
using Xunit;

namespace AnomalyActors.Node.Tests;

public sealed class ScratchDirectorySpecs
{
    [Fact]
    public void Should_remove_what_earlier_runs_left_in_an_area_and_keep_recent_directories()
    {
        // Arrange: an area no other test uses, with one directory left long ago and one just now.
        var area = "anomaly-actors-scratch-spec-" + Guid.NewGuid().ToString("N");
        var root = Path.Combine(Path.GetTempPath(), area);
        var old = Directory.CreateDirectory(Path.Combine(root, "old")).FullName;
        File.WriteAllText(Path.Combine(old, "anomaly-actors.db"), "left over");
        Directory.SetLastWriteTimeUtc(old, DateTime.UtcNow - ScratchDirectory.LeftoverAge - TimeSpan.FromMinutes(1));
        var recent = Directory.CreateDirectory(Path.Combine(root, "recent")).FullName;

        try
        {
            // Act
            var created = ScratchDirectory.Create(area);

            // Assert
            Assert.False(Directory.Exists(old));
            Assert.True(Directory.Exists(recent));
            Assert.True(Directory.Exists(created));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
