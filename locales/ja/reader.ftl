# 第13号の読者向け機能：ボタンによる確認、不正対策、埋め込み、解除リンクの再送、セルフサービス（templates/pages/）。
confirm-title = 購読の確認
confirm-heading = 購読の確認
confirm-text = ボタンを押すと、このメールアドレスで{ $newsletter }の購読が始まります。
confirm-button = 購読を確定する
confirm-ignore = お心当たりのない場合は、このページを閉じてください。ボタンを押さない限り何も起こりません。
subscribe-again = 内容をご確認のうえ、もう一度「申し込む」を押して送信してください。
field-homepage = この欄には何も入力しないでください
