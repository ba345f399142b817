using AnomalyActors.Core.Commands;
using AnomalyActors.Core.State;
using Xunit;

namespace AnomalyActors.Core.Tests;

public sealed class ExternalLogPartitionStateSpecs
{
    private static long At(long message, int index = 0) => ExternalOffsets.Compose(message, index);

    [Fact]
    public void Should_commit_nothing_before_anything_was_delivered()
    {
        Assert.Equal(-1, new ExternalLogPartitionState(0).CommitPosition());
    }

    [Fact]
    public void Should_hold_the_commit_at_the_first_message_a_sensor_has_not_snapshotted()
    {
        // Arrange
        var state = new ExternalLogPartitionState(1);
        state.Delivered("a", At(100), At(104));
        state.Delivered("b", At(101), At(105, 2));
        state.DeliveredThrough(106);

        // Act
        state.Checkpoint("a", At(104));
        state.Checkpoint("b", At(103));

        // Assert: a is done; b's snapshot ends at message 103, which may hold more of its readings,
        // so 103 is read again after a crash (b skips what it has)
        Assert.Equal(103, state.CommitPosition());
        Assert.Equal(1, state.SensorsBehind);
    }

    [Fact]
    public void Should_re_read_a_message_whose_later_readings_are_not_covered()
    {
        // Arrange: two readings of one stream in message 50; only the first is snapshotted
        var state = new ExternalLogPartitionState(0);
        state.Delivered("a", At(50, 0), At(50, 1));
        state.DeliveredThrough(51);

        // Act
        state.Checkpoint("a", At(50, 0));

        // Assert
        Assert.Equal(50, state.CommitPosition());
    }

    [Fact]
    public void Should_commit_everything_delivered_once_every_sensor_is_covered()
    {
        var state = new ExternalLogPartitionState(0);
        state.Delivered("a", At(10), At(12));
        state.DeliveredThrough(20);
        state.Checkpoint("a", At(12));

        Assert.Equal(20, state.CommitPosition());
        Assert.Equal(0, state.SensorsBehind);
    }

    [Fact]
    public void Should_not_pass_a_held_dead_letter_until_it_is_released()
    {
        // Arrange
        var state = new ExternalLogPartitionState(0);
        state.Hold(7);
        state.DeliveredThrough(9);

        // Act / Assert
        Assert.Equal(7, state.CommitPosition());
        state.Release(7);
        Assert.Equal(9, state.CommitPosition());
    }

    [Fact]
    public void Should_name_the_previous_offset_delivered_to_a_stream()
    {
        var state = new ExternalLogPartitionState(0);

        Assert.Equal(-1, state.Delivered("a", At(1), At(2)));
        Assert.Equal(At(2), state.Delivered("a", At(5), At(5)));
        Assert.Equal(-1, state.Delivered("b", At(6), At(6)));
    }

    [Fact]
    public void Should_ignore_checkpoints_of_streams_it_never_delivered_to()
    {
        var state = new ExternalLogPartitionState(0);
        state.DeliveredThrough(3);

        state.Checkpoint("stranger", At(99));

        Assert.Equal(3, state.CommitPosition());
    }

    [Fact]
    public void Should_check_only_streams_that_went_quiet_without_confirming_their_last_readings()
    {
        // Arrange: three streams get readings at t = 1,000 ms; b confirms, c is snapshotted past them
        var state = new ExternalLogPartitionState(0);
        state.Delivered("a", At(1), At(1), nowMs: 1_000);
        state.Delivered("b", At(2), At(2), nowMs: 1_000);
        state.Delivered("c", At(3), At(3), nowMs: 1_000);
        state.Confirmed("b", At(2));
        state.Checkpoint("c", At(3));
        var due = new List<CheckDelivery>();

        // Act
        state.DueForCheck(2_500, 2_000, due);
        var tooSoon = due.ToArray();
        due.Clear();
        state.DueForCheck(3_000, 2_000, due);
        var quiet = due.ToArray();
        due.Clear();
        state.DueForCheck(4_000, 2_000, due);
        var justChecked = due.ToArray();
        due.Clear();
        state.DueForCheck(5_000, 2_000, due);
        var unanswered = due.ToArray();

        // Assert: a is asked once per quiet period until it answers
        Assert.Empty(tooSoon);
        Assert.Equal([new CheckDelivery("a", 0, At(1))], quiet);
        Assert.Empty(justChecked);
        Assert.Equal([new CheckDelivery("a", 0, At(1))], unanswered);
    }

    [Fact]
    public void Should_check_a_stream_again_at_once_after_it_got_more_than_it_confirmed()
    {
        // Arrange
        var state = new ExternalLogPartitionState(0);
        state.Delivered("a", At(1), At(1), nowMs: 0);
        state.Confirmed("a", At(1));
        state.Checkpoint("a", At(1));
        var due = new List<CheckDelivery>();

        // Act
        state.DueForCheck(60_000, 2_000, due);
        var covered = due.ToArray();
        state.Delivered("a", At(5), At(6), nowMs: 60_000);
        state.DueForCheck(62_000, 2_000, due);

        // Assert
        Assert.Empty(covered);
        Assert.Equal([new CheckDelivery("a", 0, At(6))], due);
    }

    [Fact]
    public void Should_keep_asking_a_stream_that_confirmed_readings_no_snapshot_covers_yet_every_few_quiet_periods()
    {
        // Arrange: a confirms its readings at 1 s (applied in memory only); b's snapshot covers them
        var state = new ExternalLogPartitionState(0);
        state.Delivered("a", At(1), At(1), nowMs: 1_000);
        state.Delivered("b", At(2), At(2), nowMs: 1_000);
        state.Confirmed("a", At(1));
        state.Checkpoint("b", At(2));
        var due = new List<CheckDelivery>();
        var quietPeriod = 2_000L;
        var recheck = quietPeriod * ExternalLogPartitionState.UncoveredRecheckPeriods;

        // Act
        state.DueForCheck(1_000 + recheck - 1, quietPeriod, due);
        var tooSoon = due.ToArray();
        due.Clear();
        state.DueForCheck(1_000 + recheck, quietPeriod, due);
        var first = due.ToArray();
        due.Clear();
        state.DueForCheck(1_000 + recheck + quietPeriod, quietPeriod, due);
        var notAgainSoon = due.ToArray();
        due.Clear();
        state.DueForCheck(1_000 + (2 * recheck), quietPeriod, due);
        var again = due.ToArray();
        due.Clear();
        state.Checkpoint("a", At(1));
        state.DueForCheck(1_000 + (4 * recheck), quietPeriod, due);

        // Assert: a (whose member may have died with its state) is asked until a snapshot covers it
        Assert.Empty(tooSoon);
        Assert.Equal([new CheckDelivery("a", 0, At(1))], first);
        Assert.Empty(notAgainSoon);
        Assert.Equal([new CheckDelivery("a", 0, At(1))], again);
        Assert.Empty(due);
    }
}
