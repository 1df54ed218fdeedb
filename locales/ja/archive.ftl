# ウェブ版アーカイブ（/archive）。
archive-title = バックナンバー
archive-heading = バックナンバー
archive-empty = まだ配信された号はありません。
archive-sent-on = 配信日：{ $date }
archive-back = バックナンバー一覧へ
archive-subscribe = ニュースレターを購読する
archive-not-found-title = 見つかりません
archive-not-found-text = お探しの号は見つかりませんでした。
